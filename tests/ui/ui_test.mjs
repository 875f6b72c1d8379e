// Headless-Chromium test of the orch web UI (a master's /ui/).
//
//   ORCH_UI_URL=http://127.0.0.1:4646 node ui_test.mjs        (or the URL as the first argument)
//
// Environment:
//   ORCH_UI_URL        the master's base URL (required unless given as argv[2])
//   ORCH_UI_ARTIFACTS  where screenshots go (default ./artifacts)
//   ORCH_UI_TOKEN      an ACL token: first checks that the UI asks for one, then enters it
//   ORCH_UI_JOB        the job to walk through (default web); it must have a running
//                      allocation that writes to stdout and a deployment waiting for promotion
//   ORCH_UI_LOG_TEXT   text the task's stdout contains (default: any text)
//   CHROMIUM           the browser (default /usr/bin/chromium)
//
// It fails (exit 1, with the step and the reason) on any console error, page
// error, unhandled rejection, failed request or HTTP error answer the run did
// not expect; requests aborted on purpose (a stream the UI stops, a reload)
// are allowed.

import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const BASE = (process.argv[2] || process.env.ORCH_UI_URL || '').replace(/\/+$/, '');
const ARTIFACTS = path.resolve(process.env.ORCH_UI_ARTIFACTS || 'artifacts');
const TOKEN = process.env.ORCH_UI_TOKEN || '';
const JOB = process.env.ORCH_UI_JOB || 'web';
const LOG_TEXT = process.env.ORCH_UI_LOG_TEXT || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT_MS = 30000;
const DEPLOY_TIMEOUT_MS = 150000;
const TOTAL_TIMEOUT_MS = 6 * 60000;

const problems = []; // unexpected errors seen in the page
let expectForbidden = false; // while checking the UI without a token
let navigating = false; // while the test reloads the page

// URLs the UI reads as streams and aborts when it is done with them.
const isStream = (url) => /\/v1\/event\/stream\b/.test(url) || /\/logs\?.*follow=true/.test(url);

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

function problem(kind, text) {
  problems.push(`${kind}: ${text}`);
  log(`  ! ${kind}: ${text}`);
}

function watchPage(page) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (expectForbidden && /\b403\b|Forbidden/i.test(text)) return;
    problem('console error', `${text} ${msg.location() && msg.location().url ? `(${msg.location().url})` : ''}`);
  });
  page.on('pageerror', (err) => problem('page error', err && err.stack ? err.stack : String(err)));
  page.on('requestfailed', (req) => {
    const why = req.failure() ? req.failure().errorText : 'failed';
    if (why === 'net::ERR_ABORTED' && (navigating || isStream(req.url()))) return;
    problem('request failed', `${req.method()} ${req.url()}: ${why}`);
  });
  page.on('response', (res) => {
    const status = res.status();
    if (status < 400) return;
    if (status === 403 && expectForbidden) return;
    problem('HTTP error', `${res.request().method()} ${res.url()} answered ${status}`);
  });
}

async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({path: file, fullPage: true});
  log(`  screenshot ${file}`);
}

let currentStep = '';

async function step(name, fn) {
  currentStep = name;
  const t0 = Date.now();
  await fn();
  log(`ok  ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

function waitFor(page, selector, opts = {}) {
  return page.waitForSelector(selector, {visible: true, timeout: STEP_TIMEOUT_MS, ...opts});
}

// Clicks inside the page in one go: the UI re-renders on live updates, so a
// handle taken earlier may be stale by the time a mouse click lands.
async function click(page, selector) {
  await waitFor(page, selector);
  const clicked = await page.$eval(selector, (el) => {
    el.scrollIntoView({block: 'center'});
    el.click();
    return true;
  });
  if (!clicked) throw new Error(`could not click ${selector}`);
}

async function textOf(page, selector) {
  return page.$eval(selector, (el) => el.textContent.trim());
}

async function expectNoProblems(where) {
  if (problems.length) throw new Error(`${problems.length} page problem(s) ${where}:\n  ${problems.join('\n  ')}`);
}

// ------------------------------------------------------------------ steps

async function checkTokenPrompt(page) {
  await step('without a token the UI shows the 403 message and the token field', async () => {
    expectForbidden = true;
    await page.goto(`${BASE}/ui/`, {waitUntil: 'domcontentloaded'});
    await waitFor(page, '[data-test=forbidden]');
    await waitFor(page, '[data-test=token-panel] [data-test=token-input]');
    await screenshot(page, 'forbidden.png');
  });
  await step('enter the token through the UI', async () => {
    await page.type('[data-test=token-input]', TOKEN);
    await click(page, '[data-test=token-save]');
    await waitFor(page, '[data-test=master-row]');
    await page.waitForFunction(() => !document.querySelector('[data-test=forbidden]'), {timeout: STEP_TIMEOUT_MS});
    const stored = await page.evaluate(() => localStorage.getItem('orch.token'));
    if (stored !== TOKEN) throw new Error('the token was not kept in localStorage');
    expectForbidden = false;
    // Forget the 403s of the token-less page; reload with the stored token.
    navigating = true;
    await page.reload({waitUntil: 'domcontentloaded'});
    navigating = false;
    await waitFor(page, '[data-test=master-row]');
  });
}

async function checkOverview(page) {
  await step('overview shows the ready node, the masters and the leader', async () => {
    if (!TOKEN) await page.goto(`${BASE}/ui/`, {waitUntil: 'domcontentloaded'});
    await page.waitForFunction(() => [...document.querySelectorAll('[data-test=node-row] [data-test=node-status]')]
      .some((el) => el.textContent.trim() === 'ready'), {timeout: STEP_TIMEOUT_MS});
    await waitFor(page, '[data-test=master-row][data-leader=true] [data-test=leader-badge]');
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-test=leader-id]');
      return el && el.textContent.trim() && el.textContent.trim() !== '?';
    }, {timeout: STEP_TIMEOUT_MS});
    const leader = await textOf(page, '[data-test=leader-id]');
    const leaderRow = await textOf(page, '[data-test=master-row][data-leader=true]');
    if (!leaderRow.startsWith(leader)) throw new Error(`header leader ${leader} is not the master marked leader (${leaderRow})`);
    await waitFor(page, '[data-test=cpu-bar]');
    // The event stream is connected (live updates).
    await waitFor(page, '[data-test=live][data-state=on]', {visible: false});
    await screenshot(page, 'overview.png');
  });
}

async function checkJobs(page) {
  await step(`jobs list shows ${JOB}`, async () => {
    await click(page, '[data-test=nav-jobs]');
    await waitFor(page, `[data-test=job-link][data-job="${JOB}"]`);
    await screenshot(page, 'jobs.png');
  });
  await step(`job page of ${JOB} shows its allocations and the deployment`, async () => {
    await click(page, `[data-test=job-link][data-job="${JOB}"]`);
    await waitFor(page, `[data-test=job-page][data-job="${JOB}"]`);
    await waitFor(page, '[data-test=alloc-row][data-status=RUNNING] [data-test=alloc-link]');
    await waitFor(page, '[data-test=deployment]');
    await waitFor(page, '[data-test=eval-row]');
    await waitFor(page, '[data-test=version-row]');
    await screenshot(page, 'job.png');
  });
}

async function checkAllocAndLogs(page) {
  let allocId = '';
  await step('allocation page shows its tasks', async () => {
    allocId = await page.$eval('[data-test=alloc-row][data-status=RUNNING] [data-test=alloc-link]', (el) => el.dataset.alloc);
    await click(page, `[data-test=alloc-link][data-alloc="${allocId}"]`);
    await waitFor(page, '[data-test=alloc-page]');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-test=task-row] [data-test=task-state]')]
      .some((el) => el.textContent.trim() === 'running'), {timeout: STEP_TIMEOUT_MS});
    await screenshot(page, 'alloc.png');
  });
  const logHas = (text) => page.waitForFunction((want) => {
    const el = document.querySelector('[data-test=log-output]');
    return el && (want ? el.textContent.includes(want) : /\S/.test(el.textContent));
  }, {timeout: STEP_TIMEOUT_MS}, text);
  await step('logs stream the task output, stdout and stderr', async () => {
    await click(page, '[data-test=alloc-logs-tab]');
    await waitFor(page, '[data-test=logs-page]');
    await logHas(LOG_TEXT);
    await screenshot(page, 'logs.png');
    await click(page, '[data-test=log-stderr]');
    await waitFor(page, '[data-test=log-output][data-stream=stderr]');
    await waitFor(page, '[data-test=log-stderr].active');
    await click(page, '[data-test=log-stdout]');
    await waitFor(page, '[data-test=log-output][data-stream=stdout]');
    await logHas(LOG_TEXT);
  });
}

async function checkPromote(page) {
  let deploymentId = '';
  await step('back on the job page, Promote the canary deployment', async () => {
    await click(page, '[data-test=crumb-job]');
    await waitFor(page, `[data-test=job-page][data-job="${JOB}"]`);
    const ready = '[data-test=deployment][data-status=RUNNING] [data-test=deployment-promote]:not([disabled])';
    await waitFor(page, ready, {timeout: DEPLOY_TIMEOUT_MS});
    deploymentId = await page.$eval(ready, (el) => el.closest('[data-test=deployment]').dataset.id);
    const answered = page.waitForResponse((res) => res.request().method() === 'POST' &&
      res.url().includes(`/v1/deployments/${encodeURIComponent(deploymentId)}/promote`), {timeout: STEP_TIMEOUT_MS});
    await click(page, ready);
    const res = await answered;
    if (res.status() !== 200) throw new Error(`promote answered ${res.status()}: ${await res.text()}`);
    await waitFor(page, '[data-test=toast-ok]');
  });
  await step('the deployment completes (live updates show it successful)', async () => {
    await waitFor(page, `[data-test=deployment][data-id="${deploymentId}"][data-status=SUCCESSFUL]`,
      {timeout: DEPLOY_TIMEOUT_MS});
    await screenshot(page, 'promoted.png');
  });
}

async function checkOtherPages(page) {
  await step('services and service pages render', async () => {
    await click(page, '[data-test=nav-services]');
    await waitFor(page, '[data-test=service-link]');
    await click(page, '[data-test=service-link]');
    await waitFor(page, '[data-test=endpoint-row]');
    await screenshot(page, 'service.png');
  });
  await step('node page: Drain (asks first), then undo', async () => {
    await click(page, '[data-test=nav-nodes]');
    await click(page, '[data-test=node-link]');
    await waitFor(page, '[data-test=node-page] [data-test=alloc-row]');
    await screenshot(page, 'node.png');
    await click(page, '[data-test=node-drain]');
    await waitFor(page, '[data-test=node-drain][data-confirming=true]');
    await click(page, '[data-test=node-drain][data-confirming=true]');
    await waitFor(page, '[data-test=node-undrain]');
    await page.waitForFunction(() => document.querySelector('[data-test=node-page] [data-test=node-status]')
      .textContent.trim() === 'draining', {timeout: STEP_TIMEOUT_MS});
    await screenshot(page, 'drained.png');
    await click(page, '[data-test=node-undrain]');
    await waitFor(page, '[data-test=node-drain]:not([data-confirming])');
    await page.waitForFunction(() => document.querySelector('[data-test=node-page] [data-test=node-status]')
      .textContent.trim() === 'ready', {timeout: STEP_TIMEOUT_MS});
  });
}

// ------------------------------------------------------------------- main

async function main() {
  if (!BASE) throw new Error('give the master URL: ORCH_UI_URL=http://127.0.0.1:4646 (or as the first argument)');
  fs.mkdirSync(ARTIFACTS, {recursive: true});
  log(`UI test of ${BASE}/ui/ (job ${JOB}${TOKEN ? ', with an ACL token' : ''}); screenshots in ${ARTIFACTS}`);
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
  let page;
  try {
    page = await browser.newPage();
    await page.setViewport({width: 1366, height: 900});
    // A rejection nobody handles becomes a console error, which fails the run.
    await page.evaluateOnNewDocument(() => {
      window.addEventListener('unhandledrejection', (e) => {
        console.error(`unhandled rejection: ${e.reason && e.reason.stack ? e.reason.stack : e.reason}`);
      });
    });
    watchPage(page);
    if (TOKEN) await checkTokenPrompt(page);
    await checkOverview(page);
    await checkJobs(page);
    await checkAllocAndLogs(page);
    await checkPromote(page);
    await checkOtherPages(page);
    currentStep = 'no page errors';
    await expectNoProblems('during the run');
  } catch (err) {
    if (page) {
      await page.screenshot({path: path.join(ARTIFACTS, 'failure.png'), fullPage: true}).catch(() => {});
      const text = await page.evaluate(() => `${location.href}\n\n${document.body.innerText}`).catch(() => '');
      fs.writeFileSync(path.join(ARTIFACTS, 'failure.txt'), text);
    }
    throw err;
  } finally {
    await browser.close().catch(() => {});
  }
}

const deadline = setTimeout(() => {
  log(`FAIL: the UI test did not finish within ${TOTAL_TIMEOUT_MS / 1000}s (step: ${currentStep})`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

main().then(() => {
  clearTimeout(deadline);
  log('PASS: the orch UI test passed');
  process.exit(0);
}, (err) => {
  clearTimeout(deadline);
  log(`FAIL at step "${currentStep}": ${err && err.message ? err.message : err}`);
  if (problems.length && !String(err && err.message).includes('page problem')) {
    log(`page problems:\n  ${problems.join('\n  ')}`);
  }
  log(`screenshots and failure.png / failure.txt in ${ARTIFACTS}`);
  process.exit(1);
});
