//! The linkage review queue (名寄せの確認) over the API: the pairs linkage leaves to a person, the
//! decisions, and the next linkage run applying them.

use kiban_server::ServerOptions;
use serde_json::{Value, json};

use crate::{TestServer, code_of, seed_review_pairs};

#[test]
fn a_decided_pair_is_joined_or_kept_apart_by_the_next_linkage_run_and_leaves_the_queue() {
    let server = TestServer::start(ServerOptions::default(), None);
    seed_review_pairs(&server, 3);
    let processor = server.add_account("kakou", &["processor"]);
    let client = server.signed_in(&processor);
    let (status, queue) = client.get("/api/v1/linkage/review");
    assert_eq!(status, 200, "{queue}");
    let queue: Vec<Value> = serde_json::from_str(&queue).unwrap();
    assert_eq!(queue.len(), 3, "{queue:?}");
    for item in &queue {
        let pair = item["pair"].as_str().unwrap();
        assert!(pair.starts_with("RV-") && pair.len() == 19, "an opaque pair ID: {pair}");
        assert_eq!(item["reason"], "GivenNameDiffers");
        assert!(item["agreement"].as_str().unwrap().contains("birth_date=exact"), "{item}");
        // Nothing of the patients: no name, no local ID.
        let text = item.to_string();
        assert!(!text.contains("ヤマキ") && !text.contains("\"T0\""), "{text}");
    }
    // A reason is required, a decision is same or different, an unknown pair is not found.
    let first = queue[0]["pair"].as_str().unwrap().to_owned();
    let second = queue[1]["pair"].as_str().unwrap().to_owned();
    let (status, body) = client
        .post(&format!("/api/v1/linkage/review/{first}"), &json!({ "decision": "same", "reason": " " }));
    assert_eq!(status, 400, "{body}");
    let (status, _) = client
        .post(&format!("/api/v1/linkage/review/{first}"), &json!({ "decision": "maybe", "reason": "x" }));
    assert_eq!(status, 400);
    let (status, body) = client
        .post("/api/v1/linkage/review/RV-0000000000000000", &json!({ "decision": "same", "reason": "x" }));
    assert_eq!((status, code_of(&body).as_str()), (404, "not_found"), "{body}");

    let reason = "compared kana, birth date and insurance with the providers";
    let (status, body) = client
        .post(&format!("/api/v1/linkage/review/{first}"), &json!({ "decision": "same", "reason": reason }));
    assert_eq!(status, 200, "{body}");
    let (status, body) = client.post(
        &format!("/api/v1/linkage/review/{second}"),
        &json!({ "decision": "different", "reason": reason }),
    );
    assert_eq!(status, 200, "{body}");
    let (_, after) = client.get("/api/v1/linkage/review");
    let after: Vec<Value> = serde_json::from_str(&after).unwrap();
    assert_eq!(after.len(), 1, "decided pairs leave the queue at once");

    // The next linkage run applies the decisions: one pair joined, the other kept apart, neither queued.
    server.advance(chrono::TimeDelta::seconds(31));
    let session = crate::sign_in(&server.app, &processor.name, &processor.password, &processor.totp);
    let Ok(kiban_service::Response::Linked(outcome)) =
        server.app.execute(&session, kiban_service::Request::Link(kiban_service::LinkRequest::default()))
    else {
        panic!("linkage runs")
    };
    assert_eq!(outcome.n_records, 6);
    assert_eq!(outcome.n_persons, 5, "6 records, one pair decided to be one person");
    assert_eq!(outcome.n_review, 1, "only the undecided pair is queued again");
    let (_, requeued) = client.get("/api/v1/linkage/review");
    assert!(!requeued.contains(&first) && !requeued.contains(&second), "{requeued}");

    // Each decision is audited by the pair's opaque ID, never by a patient.
    let reviews: Vec<_> =
        server.audit().into_iter().filter(|entry| entry.event.action == "linkage.review").collect();
    assert_eq!(reviews.len(), 2);
    assert!(reviews.iter().all(|entry| entry.event.object.starts_with("review:RV-")));
}
