// orch-test-id-server: a tiny HTTP/1.1 server for the services end-to-end
// test and the proxy benchmark. Every request is answered with the
// allocation id (ORCH_ALLOC_ID, or --id) as the body; keep-alive is honoured.
// GET /health answers 503 while the file `<flag-dir>/<id>.unhealthy`
// exists (--flag-dir), so a test can fail one instance's health check
// without stopping it.
//
//   orch-test-id-server --port N [--host 127.0.0.1] [--id ID] [--flag-dir DIR]
//
// One thread per connection; stops on SIGTERM/SIGINT.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

std::string g_id;
std::string g_flag_dir;

bool Unhealthy() {
  if (g_flag_dir.empty()) return false;
  struct stat st;
  return stat((g_flag_dir + "/" + g_id + ".unhealthy").c_str(), &st) == 0;
}

bool SendAll(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

void Serve(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string in;
  char buf[8192];
  for (;;) {
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        close(fd);
        return;
      }
      in.append(buf, static_cast<std::size_t>(n));
    }
    std::string head = in.substr(0, end);
    in.erase(0, end + 4);  // requests carry no body
    bool close_after = head.find("HTTP/1.0") != std::string::npos ||
                       head.find("onnection: close") != std::string::npos;
    bool health = head.rfind("GET /health", 0) == 0;
    std::string status = "200 OK";
    std::string body = g_id;
    if (health && Unhealthy()) {
      status = "503 Service Unavailable";
      body = "unhealthy";
    }
    std::string resp = "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n" + (close_after ? "Connection: close\r\n" : "") +
                       "\r\n" + body;
    if (!SendAll(fd, resp) || close_after) break;
  }
  shutdown(fd, SHUT_WR);
  // Let the peer read everything before the close.
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  const char* env_id = std::getenv("ORCH_ALLOC_ID");
  g_id = env_id ? env_id : "unknown";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") {
      port = std::atoi(v.c_str());
    } else if (k == "--host") {
      host = v;
    } else if (k == "--id") {
      g_id = v;
    } else if (k == "--flag-dir") {
      g_flag_dir = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s --port N [--host H] [--id ID] [--flag-dir DIR]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "bad host %s\n", host.c_str());
    return 2;
  }
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 1024) != 0) {
    std::perror("listen");
    return 1;
  }
  std::fprintf(stderr, "id server %s listening on %s:%d\n", g_id.c_str(), host.c_str(), port);
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread(Serve, fd).detach();
  }
}
