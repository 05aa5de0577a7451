"""Authorization cases: devices, alarms, work orders."""

from tests.authz import case

case(
    "Query.devices",
    "query($c: ID!) { devices(communityId: $c) { totalCount edges { node { id code latest } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.alarms",
    "query($c: ID!) { alarms(communityId: $c) { totalCount edges { node { id type device "
    "{ id } workOrder { id } } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.workOrders",
    "query($c: ID!) { workOrders(communityId: $c) { totalCount edges { node { id title "
    "assignee { id } } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.deviceUsage",
    'query($d: ID!) { deviceUsage(deviceId: $d, metric: "pressure", '
    'from: "2026-01-01T00:00:00Z", to: "2026-12-01T00:00:00Z") { metric hours { avg } } }',
    lambda api: {"d": api.gid("Device", api.demo.extra["devices"]["G-2-PUMP-1"])},
)
case(
    "Mutation.acknowledgeAlarm",
    "mutation($a: ID!) { acknowledgeAlarm(input: {alarmId: $a}) { alarm { id status } "
    "userErrors { code } } }",
    lambda api: {"a": api.gid("Alarm", api.demo.extra["alarms"]["battery"])},
)
case(
    "Mutation.clearAlarm",
    "mutation($a: ID!) { clearAlarm(input: {alarmId: $a}) { alarm { id status } "
    "userErrors { code } } }",
    lambda api: {"a": api.gid("Alarm", api.demo.extra["alarms"]["pump"])},
)
case(
    "Mutation.updateWorkOrder",
    "mutation($w: ID!) { updateWorkOrder(input: {workOrderId: $w, status: DONE}) "
    "{ workOrder { id status } userErrors { code } } }",
    lambda api: {"w": api.gid("WorkOrder", api.demo.extra["work_orders"]["pump"])},
)
