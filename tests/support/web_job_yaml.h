// A service job file with a port, a service and a health check, as a user
// writes it (YAML flow and block style, lower-case enums, Go durations):
// shared by the document tests and tests/bench/document_bench.
#pragma once

namespace orch::samples {

inline constexpr const char* kJobYaml = R"(
id: web
type: service
groups:
  - name: web
    count: 3
    network: { ports: [ { name: http } ] }
    tasks:
      - name: server
        driver: exec
        command: /bin/busybox
        args: [httpd, -f, -p, "${PORT_http}", 8080]
        env: { MODE: prod, LEVEL: 3 }
        resources: { cpu: 100, memory: 64 }
        service: { name: web, port: http, strategy: round-robin, listen: 8080 }
        check: { type: http, path: /, interval: 1s, timeout: 250ms }
)";

}  // namespace orch::samples
