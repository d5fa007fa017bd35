//! The SAM template (`infra/template.yaml`) against the code: routes as the workspace routing
//! table says, every function built with cargo-lambda, least-privilege policies that allow
//! exactly the DynamoDB actions each function's code calls (recorded while a tour of the whole
//! API runs), no wildcards, the table and log groups as the code expects, a valid dashboard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use api_tests::client::*;
use api_tests::{FUNCTIONS, Gateway, routing_table};
use serde_json::json;
use serde_norway::Value;
use shared::testkit::recording::{RecordingBackend, RecordingMailer};
use shared::testkit::{TestStore, context, json_request, request, totp_code, workspace_root};

fn template() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("infra/template.yaml")).unwrap();
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

/// The value under a short-form intrinsic (`!Ref x` → `x`), or the value itself.
fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

fn text(value: &Value) -> String {
    match untagged(value) {
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other).unwrap().trim().to_owned(),
    }
}

/// The template's functions: binary name → resource.
fn functions(template: &Value) -> BTreeMap<String, Value> {
    function_ids(template)
        .into_iter()
        .map(|(binary, id)| (binary, template["Resources"][id.as_str()].clone()))
        .collect()
}

/// The template's functions: binary name → logical id of the resource.
fn function_ids(template: &Value) -> BTreeMap<String, String> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("every function names its binary")
                .to_owned();
            (binary, id.as_str().unwrap().to_owned())
        })
        .collect()
}

/// Every policy statement of a function, the `!If` ones included.
fn statements(function: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
        let policy = untagged(policy);
        let documents: Vec<&Value> = match policy {
            // `!If [condition, document, AWS::NoValue]`
            Value::Sequence(branches) => branches.iter().skip(1).collect(),
            other => vec![other],
        };
        for document in documents {
            if let Some(list) = untagged(document)["Statement"].as_sequence() {
                out.extend(list.iter().cloned());
            }
        }
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    match untagged(value) {
        Value::Sequence(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

#[test]
fn routes_are_the_workspace_routing_table() {
    let template = template();
    let mut routes = BTreeMap::new();
    for (binary, function) in functions(&template) {
        for (_, event) in function["Properties"]["Events"].as_mapping().unwrap() {
            assert_eq!(event["Type"], "HttpApi");
            let properties = &event["Properties"];
            assert_eq!(text(&properties["ApiId"]), "Api");
            let path = match properties.get("Path") {
                Some(path) => {
                    assert_eq!(properties["Method"], "ANY", "{binary} {path:?}");
                    text(path)
                }
                None => "$default".to_owned(),
            };
            assert!(routes.insert(path, binary.clone()).is_none());
        }
    }
    let expected: BTreeMap<String, String> = routing_table()
        .into_iter()
        .map(|(pattern, function)| {
            let path = if pattern == "/{*rest}" {
                "$default".to_owned()
            } else {
                pattern.replace("{*rest}", "{proxy+}")
            };
            (path, function)
        })
        .collect();
    assert_eq!(routes, expected);
}

#[test]
fn every_function_is_a_cargo_lambda_build_on_provided_al2023() {
    let template = template();
    let built: BTreeSet<String> = functions(&template).into_keys().collect();
    let crates: BTreeSet<String> = FUNCTIONS.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(built, crates, "one template function per function crate");
    for (binary, function) in functions(&template) {
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{binary}"
        );
        // The crate's own folder: SAM runs cargo lambda there (the workspace around it).
        let code = text(&function["Properties"]["CodeUri"]);
        assert_eq!(code, format!("../functions/{binary}"));
        assert!(
            workspace_root()
                .join("infra")
                .join(&code)
                .join("Cargo.toml")
                .exists()
        );
        let memory = function["Properties"]["MemorySize"].as_u64().unwrap();
        assert!((128..=10240).contains(&memory), "{binary}");
        let log_group = text(&function["Properties"]["LoggingConfig"]["LogGroup"]);
        let group = &template["Resources"][log_group.as_str()];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup", "{binary}");
        assert_eq!(
            text(&group["Properties"]["RetentionInDays"]),
            "LogRetentionDays"
        );
    }
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(text(&globals["Architectures"][0]), "Architecture");
    assert_eq!(template["Parameters"]["Architecture"]["Default"], "arm64");
    // Provider client secrets reach the oauth function only.
    let oauth_variable = |vars: &Value| {
        vars.as_mapping().is_some_and(|m| {
            m.keys()
                .any(|k| k.as_str().is_some_and(|k| k.starts_with("OAUTH_")))
        })
    };
    assert!(!oauth_variable(&globals["Environment"]["Variables"]));
    for (binary, function) in functions(&template) {
        let own = &function["Properties"]["Environment"]["Variables"];
        assert_eq!(oauth_variable(own), binary == "oauth", "{binary}");
    }
    for variable in [
        "ENV",
        "STORE",
        "TABLE_NAME",
        "APP_SECRETS_ARN",
        "CORS_ORIGINS",
        "MAIL_FROM",
    ] {
        assert!(
            globals["Environment"]["Variables"].get(variable).is_some(),
            "{variable}"
        );
    }
}

#[test]
fn the_table_is_what_the_store_expects() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        "expires_at"
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(text(&table["DeletionProtectionEnabled"][0]), "IsProd");
    let keys: Vec<String> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| text(&k["AttributeName"]))
        .collect();
    assert_eq!(keys, [shared::store::PK, shared::store::SK]);
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], "GSI1");
    let index_keys: Vec<String> = index["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| text(&k["AttributeName"]))
        .collect();
    assert_eq!(index_keys, [shared::store::GSI1PK, shared::store::GSI1SK]);
}

#[test]
fn no_policy_allows_a_wildcard_action_or_resource() {
    let template = template();
    for (binary, function) in functions(&template) {
        let statements = statements(&function);
        assert!(!statements.is_empty(), "{binary}");
        for statement in statements {
            assert_eq!(statement["Effect"], "Allow");
            for action in strings(&statement["Action"]) {
                assert!(!action.contains('*'), "{binary}: {action}");
            }
            for resource in strings(&statement["Resource"]) {
                assert!(!resource.contains('*'), "{binary}: {resource}");
            }
        }
    }
}

/// The dashboard body as JSON, each `${Name}` substitution replaced by its bare `Name` (the
/// names are JSON-safe inside strings).
fn dashboard(template: &Value) -> serde_json::Value {
    let body = &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"];
    let source = text(&untagged(body)[0]);
    let mut substituted = String::new();
    let mut rest = source.as_str();
    while let Some(start) = rest.find("${") {
        substituted.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        substituted.push_str(&rest[start + 2..end]);
        rest = &rest[end + 1..];
    }
    substituted.push_str(rest);
    serde_json::from_str(&substituted).expect("the dashboard body is JSON")
}

#[test]
fn the_dashboard_is_valid_json_with_every_panel_operators_need() {
    let template = template();
    let dashboard = dashboard(&template);
    let titles: Vec<&str> = dashboard["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    for needed in [
        "Sign-in attempts",
        "Lockouts",
        "Security events",
        "MFA",
        "OAuth",
        "Tracker entries by kind",
        "status class",
        "p50 / p99",
        "Cold starts",
        "throttles",
        "Recent security events",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(needed)),
            "{needed} in {titles:?}"
        );
    }
}

/// A new function shows up everywhere operators look: its name and log group, the saved
/// queries, the dashboard's log and throttle widgets and its metric searches, and the throttle
/// alarm's sum.
#[test]
fn every_function_is_in_the_queries_dashboard_and_throttle_alarm() {
    let template = template();
    let resources = &template["Resources"];
    let dashboard = dashboard(&template);
    let widgets = dashboard["widgets"].as_array().unwrap();
    let log_queries: Vec<&str> = widgets
        .iter()
        .filter(|w| w["type"] == "log")
        .map(|w| w["properties"]["query"].as_str().unwrap())
        .collect();
    assert!(!log_queries.is_empty());
    let lambda_throttles: Vec<String> = widgets
        .iter()
        .flat_map(|w| {
            w["properties"]["metrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|m| m[0] == "AWS/Lambda" && m[1] == "Throttles")
        .map(|m| m[3].as_str().unwrap().to_owned())
        .collect();
    let body = &resources["Dashboard"]["Properties"]["DashboardBody"];
    let prefix = text(&untagged(body)[1]["Prefix"]);
    let queries: Vec<&Value> = resources
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Logs::QueryDefinition")
        .collect();
    assert!(!queries.is_empty());
    let alarm = &resources["FunctionThrottleAlarm"]["Properties"]["Metrics"];
    let alarm = alarm.as_sequence().unwrap();
    let sum = alarm
        .iter()
        .find(|m| m["ReturnData"] == true)
        .map(|m| text(&m["Expression"]))
        .expect("the throttle alarm's expression");

    for (binary, id) in function_ids(&template) {
        let function = &resources[id.as_str()]["Properties"];
        let name = format!("${{AWS::StackName}}-{binary}");
        assert_eq!(text(&function["FunctionName"]), name);
        let group = text(&function["LoggingConfig"]["LogGroup"]);
        assert_eq!(
            text(&resources[group.as_str()]["Properties"]["LogGroupName"]),
            format!("/aws/lambda/{name}")
        );
        for query in &queries {
            let groups = strings(&query["Properties"]["LogGroupNames"]);
            assert!(groups.contains(&group), "{binary} in {groups:?}");
        }
        for query in &log_queries {
            assert!(
                query.contains(&format!("SOURCE '{group}'")),
                "{binary}: {query}"
            );
        }
        assert!(
            lambda_throttles.contains(&id),
            "{binary} in {lambda_throttles:?}"
        );
        assert!(
            prefix.contains(&format!("function=\\\"{name}\\\"")),
            "{binary} in {prefix}"
        );
        let metric = alarm
            .iter()
            .find(|m| text(&m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]) == id)
            .unwrap_or_else(|| panic!("{binary} in the throttle alarm"));
        let metric_id = metric["Id"].as_str().unwrap();
        assert!(
            sum.contains(&format!("FILL({metric_id}, 0)")),
            "{binary}: {sum}"
        );
    }
}

/// The IAM actions a function's policy allows on the table, and whether it names the index.
fn allowed(function: &Value) -> (BTreeSet<String>, bool, bool) {
    let mut actions = BTreeSet::new();
    let (mut index, mut mail) = (false, false);
    for statement in statements(function) {
        let listed = strings(&statement["Action"]);
        if listed.iter().any(|a| a.starts_with("dynamodb:")) {
            actions.extend(listed);
            index = strings(&statement["Resource"])
                .iter()
                .any(|r| r.contains("/index/"));
        }
        mail |= strings(&statement["Action"]).contains(&"ses:SendEmail".to_owned());
        if strings(&statement["Action"]).contains(&"secretsmanager:GetSecretValue".to_owned()) {
            assert_eq!(strings(&statement["Resource"]), ["AppSecrets"]);
        }
    }
    (actions, index, mail)
}

#[tokio::test]
async fn each_policy_allows_exactly_what_its_function_calls() {
    let store = TestStore::embedded();
    let mut settings = GENEROUS.to_vec();
    settings.extend(api_tests::oauth::settings());
    settings.extend([
        ("SEED_DEMO_ACCOUNTS", "true"),
        ("SESSION_POLICY", "multi"),
        ("RESET_MIN_RESPONSE_MS", "0"),
    ]);
    let (ctx, _) = context(&store, &settings);
    auth::seed::demo_accounts(&ctx).await.unwrap();
    let recorders: BTreeMap<&str, (Arc<RecordingBackend>, Arc<RecordingMailer>)> = FUNCTIONS
        .iter()
        .map(|(name, _)| {
            let backend = Arc::new(RecordingBackend::new(store.backend.clone()));
            let mailer = Arc::new(RecordingMailer::new(ctx.mailer.clone()));
            (*name, (backend, mailer))
        })
        .collect();
    let api = Gateway::per_function(|name| {
        let (backend, mailer) = &recorders[name];
        let mut own = ctx.clone();
        own.store = shared::store::Store::new(backend.clone(), store.clock.clone());
        own.mailer = mailer.clone();
        own
    });
    tour(&api, &ctx).await;

    let template = template();
    for (binary, function) in functions(&template) {
        let (backend, mailer) = &recorders[binary.as_str()];
        let called = backend.access();
        let (actions, index, mail) = allowed(&function);
        assert_eq!(actions, called.actions, "{binary}: policy vs calls");
        assert_eq!(index, called.reads_index, "{binary}: index access");
        assert_eq!(mail, mailer.sent_any(), "{binary}: ses:SendEmail");
    }
}

/// Every endpoint of every function, with the failure paths that write (lockouts, limits).
async fn tour(api: &Gateway, ctx: &shared::AppContext) {
    for path in [
        "/",
        "/v1/health",
        "/v1/ready",
        "/v1/openapi.json",
        "/docs",
        "/v1/nope",
    ] {
        api.send(request("GET", path)).await;
    }
    // Accounts.
    let (access, refresh_token) = tokens(&signup(api, "tour@example.com").await);
    assert_eq!(signup(api, "tour@example.com").await.status, 409);
    login(api, "tour@example.com", "wrong password").await;
    let (second, _) = tokens(&login(api, "tour@example.com", PASSWORD).await);
    let (_, rotated) = tokens(&refresh(api, &refresh_token).await);
    refresh(api, &refresh_token).await;
    me(api, &access).await;
    api.send(with_bearer(request("GET", "/v1/auth/session"), &second))
        .await;
    let listed = api
        .send(with_bearer(request("GET", "/v1/auth/sessions"), &second))
        .await
        .json();
    let other = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .map(|s| s["id"].as_str().unwrap().to_owned());
    if let Some(other) = other {
        api.send(with_bearer(
            request("DELETE", &format!("/v1/auth/sessions/{other}")),
            &second,
        ))
        .await;
    }
    let change = |current: &str, new: &str| {
        with_bearer(
            json_request(
                "POST",
                "/v1/auth/password/change",
                &json!({"current_password": current, "new_password": new}),
            ),
            &second,
        )
    };
    api.send(change("not it", "a changed passphrase")).await;
    api.send(change(PASSWORD, "a changed passphrase")).await;
    ctx.clock.advance(std::time::Duration::from_secs(1));
    request_reset(api, "tour@example.com").await;
    let token = reset_token(ctx, "tour@example.com");
    assert_eq!(confirm_reset(api, &token, PASSWORD).await.status, 204);
    ctx.clock.advance(std::time::Duration::from_secs(1));
    api.send(request("POST", "/v1/auth/demo")).await;
    let (access, _) = tokens(&login(api, "tour@example.com", PASSWORD).await);
    api.send(with_bearer(request("GET", "/v1/auth/events"), &access))
        .await;
    let (admin, _) = tokens(&login(api, "admin@example.com", "Admin123!").await);
    api.send(with_bearer(
        request("GET", "/v1/admin/users?email=tour"),
        &admin,
    ))
    .await;
    let id = me(api, &access).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.send(with_bearer(
        json_request(
            "PATCH",
            &format!("/v1/admin/users/{id}"),
            &json!({"roles": ["STUDENT", "REVIEWER"]}),
        ),
        &admin,
    ))
    .await;
    let (access, _) = tokens(&login(api, "tour@example.com", PASSWORD).await);
    api.send(json_request(
        "POST",
        "/v1/auth/logout",
        &json!({"refresh_token": rotated}),
    ))
    .await;

    // Two-factor authentication.
    let bearer = |path: &str, body: serde_json::Value| {
        with_bearer(json_request("POST", path, &body), &access)
    };
    let secret = api
        .send(with_bearer(request("POST", "/v1/auth/mfa/setup"), &access))
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = || totp_code(&secret, ctx.clock.epoch_seconds());
    let enabled = api
        .send(bearer("/v1/auth/mfa/enable", json!({"code": code()})))
        .await
        .json();
    let backup = enabled["backup_codes"][0].as_str().unwrap().to_owned();
    api.send(with_bearer(request("GET", "/v1/auth/mfa/status"), &access))
        .await;
    let step = || ctx.clock.advance(std::time::Duration::from_secs(30));
    let pending = login(api, "tour@example.com", PASSWORD).await.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = |field: &str, value: String| {
        json_request(
            "POST",
            "/v1/auth/mfa/verify",
            &json!({"mfa_token": pending, field: value}),
        )
    };
    api.send(verify("code", "000000".into())).await;
    step();
    assert_eq!(api.send(verify("code", code())).await.status, 200);
    let pending = login(api, "tour@example.com", PASSWORD).await.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify_backup = json_request(
        "POST",
        "/v1/auth/mfa/verify",
        &json!({"mfa_token": pending, "backup_code": backup}),
    );
    api.send(verify_backup).await;
    step();
    api.send(bearer(
        "/v1/auth/mfa/backup-codes/regenerate",
        json!({"code": code()}),
    ))
    .await;
    step();
    api.send(bearer("/v1/auth/mfa/disable", json!({"code": code()})))
        .await;
    api.send(with_bearer(request("POST", "/v1/auth/logout-all"), &access))
        .await;
    oauth_tour(api).await;
    tracker_tour(api).await;
}

/// Provider sign-ins: a new account, a link to a password account, the list, an unlink, and a
/// refused state.
async fn oauth_tour(api: &Gateway) {
    use api_tests::oauth::{account, callback, sign_in};
    let created = sign_in(api, &account("oauth-tour@example.com")).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let refused = sign_in(api, &account("tour@example.com")).await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    let link_token = refused.json()["error"]["details"]["link_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let linked = api
        .send(json_request(
            "POST",
            "/v1/auth/oauth/link",
            &json!({"link_token": link_token, "password": PASSWORD}),
        ))
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text());
    let (access, _) = tokens(&linked);
    api.send(with_bearer(
        request("GET", "/v1/auth/oauth/identities"),
        &access,
    ))
    .await;
    let unlinked = api
        .send(with_bearer(
            request("DELETE", "/v1/auth/oauth/identities/local"),
            &access,
        ))
        .await;
    assert_eq!(unlinked.status, 204, "{}", unlinked.text());
    callback(api, "/v1/auth/oauth/local/callback?code=x&state=y").await;
}

/// The medical tracker as a signed-in user: a medication and a dose of it, a feeling, every view
/// of them, the passport, the export, the catalogue, then a delete, an archive and the erasure.
async fn tracker_tour(api: &Gateway) {
    let signed_up = signup(api, "tracker-tour@example.com").await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.text());
    let (access, _) = tokens(&signed_up);
    let call =
        |method: &'static str, path: String, body: Option<serde_json::Value>, status: u16| {
            let request = match &body {
                Some(body) => json_request(method, &path, body),
                None => request(method, &path),
            };
            let request = with_bearer(request, &access);
            async move {
                let response = api.send(request).await;
                assert_eq!(
                    response.status,
                    status,
                    "{method} {path}: {}",
                    response.text()
                );
                response
            }
        };
    let medication = call(
        "POST",
        "/v1/tracker/medications".into(),
        Some(json!({
            "name": "Metformin",
            "dose": 500,
            "unit": "mg",
            "schedule": {"times": ["08:00"]},
            "start_date": "2026-01-01",
        })),
        201,
    )
    .await
    .json();
    let medication_id = medication["id"].as_str().unwrap().to_owned();
    call("GET", "/v1/tracker/medications".into(), None, 200).await;
    let dose = call(
        "POST",
        "/v1/tracker/doses".into(),
        Some(json!({
            "medication_id": medication_id,
            "taken_at": "2026-01-02T08:00:00+01:00",
            "dose": 500,
            "status": "taken",
        })),
        201,
    )
    .await
    .json();
    let dose_id = dose["id"].as_str().unwrap().to_owned();
    call(
        "GET",
        "/v1/tracker/doses?from=2026-01-01&to=2026-01-31".into(),
        None,
        200,
    )
    .await;
    call(
        "PUT",
        "/v1/tracker/feelings/2026-01-02".into(),
        Some(json!({"score": 7})),
        200,
    )
    .await;
    for path in [
        "/v1/tracker/days/2026-01-02",
        "/v1/tracker/feel-vs-yesterday?date=2026-01-02",
        "/v1/tracker/adherence?from=2026-01-01&to=2026-01-31",
        "/v1/tracker/passport",
        "/v1/tracker/export?format=json",
        "/v1/tracker/catalog/medications?q=met",
    ] {
        call("GET", path.into(), None, 200).await;
    }
    call("DELETE", format!("/v1/tracker/doses/{dose_id}"), None, 204).await;
    // Archiving is an update of the medication in place.
    call(
        "DELETE",
        format!("/v1/tracker/medications/{medication_id}"),
        None,
        204,
    )
    .await;
    call("DELETE", "/v1/tracker/data".into(), None, 204).await;
    let left = call(
        "GET",
        "/v1/tracker/medications?include_archived=true".into(),
        None,
        200,
    )
    .await
    .json();
    assert_eq!(left, json!([]), "the erasure leaves no medication");
}
