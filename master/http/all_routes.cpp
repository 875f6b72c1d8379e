#include "master/http/all_routes.h"

#include "master/http/acl_api.h"
#include "master/http/cluster_api.h"
#include "master/http/deployments_api.h"
#include "master/http/events_api.h"
#include "master/http/launch_api.h"
#include "master/http/lifecycle_api.h"
#include "master/http/logs_api.h"
#include "master/http/migrate_api.h"
#include "master/http/operator_api.h"
#include "master/http/scheduler_api.h"
#include "master/http/services_api.h"
#include "master/ui/ui_api.h"

namespace orch::master {

void RegisterAllRoutes(Router* router, const ApiDeps& deps, replication::RaftNode* raft) {
  RegisterApiRoutes(router, deps);
  RegisterServiceRoutes(router, deps);
  RegisterClusterRoutes(router, raft);
  RegisterLogsRoutes(router, deps.store, deps.tls);
  RegisterMigrateRoutes(router, deps.store, deps.tls);
  RegisterSchedulerRoutes(router, deps);
  RegisterDeploymentRoutes(router, deps);
  RegisterLifecycleRoutes(router, deps);
  RegisterLaunchRoutes(router, deps);
  RegisterAclRoutes(router, deps);
  RegisterOperatorRoutes(router, deps);
  RegisterEventRoutes(router, deps);
  RegisterUiRoutes(router, deps.ui_dir);
}

}  // namespace orch::master
