//! The server as a OneRoster client sees it: tokens, shapes, paging and filters.

use std::collections::BTreeSet;

use super::{CLIENT_ID, CLIENT_SECRET, JsonBody, http, sample_bundle, start, token};
use crate::mis::rest::ServerOptions;

#[tokio::test]
async fn collections_refuse_requests_without_a_valid_token() {
    let (_, dir) = sample_bundle(40);
    let running = start(dir.path(), ServerOptions::default()).await;
    let users = running.url("/ims/oneroster/v1p1/users");

    let anonymous = http().get(&users).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let body = anonymous.json_value().await;
    assert_eq!(body["imsx_codeMajor"], "failure");

    let forged = http()
        .get(&users)
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    let issued = token(&running).await;
    let allowed = http()
        .get(&users)
        .bearer_auth(&issued)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
}

#[tokio::test]
async fn token_is_issued_for_basic_or_form_credentials_and_refused_otherwise() {
    let (_, dir) = sample_bundle(20);
    let running = start(dir.path(), ServerOptions::default()).await;
    let post = |body: String| {
        http()
            .post(running.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };

    let form = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    );
    let answer = post(form).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.json_value().await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].as_str().unwrap().len() >= 40);

    let wrong = post("grant_type=client_credentials".into())
        .basic_auth(CLIENT_ID, Some("not-the-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json_value().await["error"], "invalid_client");

    let other_grant = post("grant_type=password".into())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(other_grant.status(), 400);
}

#[tokio::test]
async fn pages_serve_every_record_exactly_once_with_total_and_links() {
    let (sample, dir) = sample_bundle(60);
    let running = start(dir.path(), ServerOptions::default()).await;
    let bearer = token(&running).await;
    let everyone = sample.students.len() + sample.staff.len() + sample.contacts.len();

    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let url = running.url(&format!(
            "/ims/oneroster/v1p1/users?limit=9&offset={offset}"
        ));
        let page = http().get(url).bearer_auth(&bearer).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let total: usize = page.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(total, everyone);
        let link = page.headers()["link"].to_str().unwrap().to_owned();
        let body = page.json_value().await;
        let users = body["users"].as_array().unwrap();
        seen.extend(
            users
                .iter()
                .map(|u| u["sourcedId"].as_str().unwrap().to_owned()),
        );
        offset += users.len();
        if offset >= total {
            assert!(!link.contains("rel=\"next\""), "{link}");
            break;
        }
        let next = format!("offset={offset}>; rel=\"next\"");
        assert!(link.contains(&next), "{link}");
        assert_eq!(users.len(), 9);
    }
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), everyone);
    assert_eq!(unique.len(), everyone);
}

#[tokio::test]
async fn students_are_served_in_the_oneroster_shape_without_passwords() {
    let (sample, dir) = sample_bundle(20);
    let running = start(dir.path(), ServerOptions::default()).await;
    let bearer = token(&running).await;
    let pupil = &sample.students[0];

    let url = running.url("/ims/oneroster/v1p1/students?limit=1000");
    let body = http().get(url).bearer_auth(&bearer).send().await.unwrap();
    let body = body.json_value().await;
    let students = body["users"].as_array().unwrap();
    assert_eq!(students.len(), sample.students.len());
    assert!(students.iter().all(|s| s["role"] == "student"));

    let first = students
        .iter()
        .find(|s| s["sourcedId"] == pupil.sourced_id.as_str())
        .unwrap();
    assert_eq!(first["status"], "active");
    assert_eq!(first["dateLastModified"], "2024-09-01T00:00:00.000Z");
    assert_eq!(first["givenName"], pupil.given_name.as_str());
    assert_eq!(first["grades"][0], pupil.year_group.as_str());
    assert_eq!(first["metadata"]["uk.upn"], pupil.upn.as_str());
    assert_eq!(first["agents"][0]["type"], "user");
    assert_eq!(
        first["agents"][0]["sourcedId"],
        pupil.contact_ids[0].as_str()
    );
    assert!(first.get("password").is_none());

    let url = running.url("/ims/oneroster/v1p1/students?fields=sourcedId,givenName");
    let body = http().get(url).bearer_auth(&bearer).send().await.unwrap();
    let body = body.json_value().await;
    let keys: BTreeSet<&String> = body["users"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        ["givenName", "sourcedId"]
    );
}

#[tokio::test]
async fn filters_other_than_date_last_modified_after_are_refused() {
    let (_, dir) = sample_bundle(20);
    let running = start(dir.path(), ServerOptions::default()).await;
    let bearer = token(&running).await;
    let ask = |filter: &str| {
        let mut url = reqwest::Url::parse(&running.url("/ims/oneroster/v1p1/users")).unwrap();
        url.query_pairs_mut().append_pair("filter", filter);
        http().get(url).bearer_auth(&bearer).send()
    };

    for refused in [
        "givenName='Amy'",
        "dateLastModified<'2024-01-01T00:00:00Z'",
        "dateLastModified>'last week'",
        "dateLastModified>'2024-01-01' AND role='student'",
    ] {
        let answer = ask(refused).await.unwrap();
        assert_eq!(answer.status(), 400, "{refused}");
        let body = answer.json_value().await;
        assert_eq!(body["imsx_codeMajor"], "failure", "{refused}");
        let minor = &body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"];
        assert_eq!(minor, "invalid_filter_field", "{refused}");
    }

    let at_the_instant = ask("dateLastModified>='2024-09-01T00:00:00Z'")
        .await
        .unwrap();
    assert_ne!(at_the_instant.headers()["x-total-count"], "0");
    let after_it = ask("dateLastModified>'2024-09-01T00:00:00Z'")
        .await
        .unwrap();
    assert_eq!(after_it.headers()["x-total-count"], "0");
}
