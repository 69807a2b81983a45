//! Links a synthetic population and reports time and pairwise quality.
//!
//! `cargo run --release -p kiban-linkage --example scale -- 100000` (the argument is the number of people).

#[path = "../tests/it/generate.rs"]
mod generate;

use std::time::Instant;

use kiban_linkage::{LinkageConfig, evaluate, link};
use kiban_model::IdentifiedPerson;

fn main() -> anyhow::Result<()> {
    let n_people: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 100_000,
    };
    let generated = generate::generate(generate::Shape { n_people, n_providers: 20, few_names: false }, 1);
    let refs: Vec<&IdentifiedPerson> = generated.persons.iter().collect();
    let started = Instant::now();
    let linkage = link(&refs, &LinkageConfig::default());
    let elapsed = started.elapsed();
    let quality = evaluate(&linkage.cluster_of, &generated.truth);
    println!("{} people, {} records, linked in {:.2?}", n_people, refs.len(), elapsed);
    println!("{:?}", linkage.stats);
    println!("review queue: {} pairs", linkage.review.len());
    println!("precision {:.4} recall {:.4} f1 {:.4}", quality.precision, quality.recall, quality.f1);
    Ok(())
}
