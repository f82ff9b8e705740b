//! `--resume` refuses a results file written for another CSV (or for this one before it changed).

mod support;

use support::{Env, numbers_csv};

#[tokio::test(flavor = "multi_thread")]
async fn resume_refuses_the_results_of_another_csv_and_sends_nothing() {
    let env = Env::new().await;
    let first = env.write("first.csv", &numbers_csv(0, 3));
    env.run(&["bulk", "--yes", first.to_str().unwrap()])
        .expect_code(0);
    let results = env.path("first.results.csv");
    assert!(
        env.path("first.results.csv.source.json").exists(),
        "the stamp beside the results"
    );
    assert_eq!(env.sandbox.messages().len(), 3);

    // Another file with the first one's results: refused before anything is sent.
    let other = env.write("other.csv", &numbers_csv(100, 5));
    let refused = env
        .run(&[
            "bulk",
            "--yes",
            other.to_str().unwrap(),
            "--resume",
            results.to_str().unwrap(),
        ])
        .expect_code(2);
    assert!(refused.stderr().contains("belongs to"), "{}", refused.stderr());
    assert!(
        refused.stderr().contains("first.csv"),
        "names the right file: {}",
        refused.stderr()
    );
    assert_eq!(env.sandbox.messages().len(), 3, "nothing sent");

    // The first file, changed since: refused too.
    std::fs::write(&first, numbers_csv(0, 4)).unwrap();
    env.run(&[
        "bulk",
        "--yes",
        first.to_str().unwrap(),
        "--resume",
        results.to_str().unwrap(),
    ])
    .expect_code(2);
    assert_eq!(env.sandbox.messages().len(), 3, "nothing sent");

    // Unchanged: resumes (everything was accepted: nothing left to send).
    std::fs::write(&first, numbers_csv(0, 3)).unwrap();
    env.run(&[
        "bulk",
        "--yes",
        first.to_str().unwrap(),
        "--resume",
        results.to_str().unwrap(),
    ])
    .expect_code(0);
    assert_eq!(env.sandbox.messages().len(), 3);
}
