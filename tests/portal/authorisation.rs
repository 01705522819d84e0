//! Who may see what: nobody without a current token sees anything, and school staff
//! asking for another school's pupil get exactly the answer a pupil nobody knows gets.

use serde_json::json;

use crate::server::{NS, Served};

/// A Brook pupil the example delivery sent to reading-quest.
const BROOK_PUPIL: &str = "stu-139202-00003";
/// An Ashby pupil the example delivery sent to homework-hub.
const ASHBY_PUPIL: &str = "stu-139201-00010";

#[test]
fn nobody_without_a_current_token_sees_anything_and_other_schools_pupils_stay_unknown() {
    let portal = Served::start();

    // No token at all: the API refuses, pages send the browser to sign in.
    for path in [
        "/portal/api/v1/flows",
        "/portal/api/v1/agreements",
        "/portal/api/v1/locations",
        "/portal/api/v1/record-of-processing",
    ] {
        let (status, _, body) = portal.get(path, None, None);
        assert_eq!(status, 401, "{path}");
        assert!(!body.contains("riverside"), "{path} leaked {body}");
    }
    for path in [
        "/portal/flows",
        "/portal/locate",
        "/portal/reports/art30.csv",
    ] {
        let (status, headers, _) = portal.get(path, None, None);
        assert_eq!(status, 303, "{path}");
        assert_eq!(headers["location"], "/portal/sign-in");
    }
    let ask = json!({ "school": "brook-primary", "sourcedId": BROOK_PUPIL });
    assert_eq!(
        portal
            .post_json("/portal/api/v1/locate", None, None, ask.clone(), &[])
            .0,
        401
    );
    let (status, _, _) = portal.post_form(
        "/portal/locate",
        None,
        &[
            ("csrf", "x"),
            ("school", "brook-primary"),
            ("sourcedId", BROOK_PUPIL),
        ],
    );
    assert_eq!(status, 303);

    // An expired token: refused by the API and at sign-in.
    let (status, _, _) = portal.get("/portal/api/v1/flows", Some(&portal.expired), None);
    assert_eq!(status, 401);
    assert_eq!(
        portal
            .post_json(
                "/portal/api/v1/locate",
                Some(&portal.expired),
                None,
                ask.clone(),
                &[]
            )
            .0,
        401
    );
    assert!(
        portal.sign_in(&portal.expired).is_none(),
        "an expired token signed in"
    );
    assert!(portal.sign_in("not-a-token").is_none());

    // The pupil exists and flowed: the DPO sees them.
    let (status, body) = portal.post_json(
        "/portal/api/v1/locate",
        Some(&portal.dpo),
        None,
        ask.clone(),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("reading-quest"));

    // Ashby's office asking for them by API gets what a pupil nobody knows gets.
    let unknown = json!({ "school": "ashby-primary", "sourcedId": "stu-139201-99999" });
    let refused = portal.post_json(
        "/portal/api/v1/locate",
        Some(&portal.staff),
        None,
        ask.clone(),
        &[],
    );
    let nobody = portal.post_json(
        "/portal/api/v1/locate",
        Some(&portal.staff),
        None,
        unknown,
        &[],
    );
    assert_eq!(refused.0, 404);
    assert_eq!(refused, nobody, "the refusal tells the pupil exists");
    assert!(!refused.1.contains(BROOK_PUPIL));
    let namespaced = json!({ "school": format!("{NS}/brook-primary"), "sourcedId": BROOK_PUPIL });
    assert_eq!(
        portal.post_json(
            "/portal/api/v1/locate",
            Some(&portal.staff),
            None,
            namespaced,
            &[]
        ),
        nobody
    );

    // And by page, signed in through the form.
    let (session, csrf) = portal.sign_in(&portal.staff).expect("staff sign in");
    let by_page = |school: &str, pupil: &str| {
        let (status, _, body) = portal.post_form(
            "/portal/locate",
            Some(&session),
            &[("csrf", &csrf), ("school", school), ("sourcedId", pupil)],
        );
        (status, body)
    };
    let refused = by_page("brook-primary", BROOK_PUPIL);
    assert_eq!(refused.0, 404);
    assert_eq!(refused, by_page("ashby-primary", "stu-139201-99999"));
    assert!(!refused.1.contains(BROOK_PUPIL));

    // Their own pupils they do see, and only their school's flows.
    let own = by_page("ashby-primary", ASHBY_PUPIL);
    assert_eq!(own.0, 200);
    assert!(own.1.contains("homework-hub"));
    let (_, _, flows) = portal.get("/portal/api/v1/flows", None, Some(&session));
    let flows: serde_json::Value = serde_json::from_str(&flows).unwrap();
    let schools: Vec<&str> = flows["schools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(schools, [format!("{NS}/ashby-primary")]);

    // A change without the session's CSRF token is refused, by page and by API.
    let (status, _, _) = portal.post_form(
        "/portal/locate",
        Some(&session),
        &[
            ("csrf", "forged"),
            ("school", "ashby-primary"),
            ("sourcedId", ASHBY_PUPIL),
        ],
    );
    assert_eq!(status, 403);
    let own_ask = json!({ "school": "ashby-primary", "sourcedId": ASHBY_PUPIL });
    assert_eq!(
        portal
            .post_json(
                "/portal/api/v1/locate",
                None,
                Some(&session),
                own_ask.clone(),
                &[]
            )
            .0,
        403
    );
    assert_eq!(
        portal
            .post_json(
                "/portal/api/v1/locate",
                None,
                Some(&session),
                own_ask,
                &[("x-csrf-token", &csrf)]
            )
            .0,
        200
    );

    // Signed out, the session no longer works.
    let (status, _, _) = portal.post_form("/portal/sign-out", Some(&session), &[("csrf", &csrf)]);
    assert_eq!(status, 303);
    let (status, _, _) = portal.get("/portal/flows", None, Some(&session));
    assert_eq!(status, 303);
}

#[test]
fn personal_pages_are_never_stored_framed_or_given_inline_script() {
    let portal = Served::start();
    let (session, csrf) = portal.sign_in(&portal.dpo).expect("dpo sign in");
    let (status, headers, body) = portal.post_form(
        "/portal/locate",
        Some(&session),
        &[
            ("csrf", &csrf),
            ("school", "ashby-primary"),
            ("sourcedId", ASHBY_PUPIL),
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(!body.contains("<script"), "inline script on a page");

    // The session cookie is out of reach of scripts and other sites.
    let (_, headers, page) = portal.get("/portal/sign-in", None, None);
    let nonce_cookie = crate::server::set_cookie(&headers, "accord_sign_in").unwrap();
    let nonce = crate::server::hidden(&page, "csrf").unwrap();
    let (_, headers, _) = portal.post_form(
        "/portal/sign-in",
        Some(&nonce_cookie),
        &[("token", &portal.dpo), ("csrf", &nonce)],
    );
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // A sign-in form posted from elsewhere, without the form's own cookie, signs nobody in.
    let (status, headers, _) = portal.post_form(
        "/portal/sign-in",
        None,
        &[("token", &portal.dpo), ("csrf", &nonce)],
    );
    assert_eq!(status, 303);
    assert!(crate::server::set_cookie(&headers, "accord_portal").is_none());
}
