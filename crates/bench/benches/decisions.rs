//! Decisions natively, on generated organisations of three sizes: one decision through a
//! `UserView` (the id resolved, then answered), the general evaluator for comparison, and a
//! filter of 100k search results for one user. A random user of a sample and a random Project
//! per decision, so that the cost of a cold Project shows.
//!
//! `cargo xtask bench` runs this; `TESSERA_BENCH_SCALES=small,medium` picks the sizes.

#![allow(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark indexes its own workload, built just above, and stops on a broken fixture"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use tessera_bench::Rng;
use tessera_core::{Policy, ProjectIndex, Query, ResourceKind, Target, Timestamp, UserView};
use tessera_generate::{Scale, generate};

const WORKLOAD: usize = 1 << 16;
const SAMPLE_USERS: usize = 1_000;
const FILTERED: usize = 100_000;

struct Fixture {
    policy: Policy,
    users: Vec<String>,
    views: Vec<UserView>,
    /// (user in the sample, Project id).
    pairs: Vec<(usize, String)>,
    filter_ids: Vec<String>,
}

fn now() -> Timestamp {
    Timestamp::from_unix(1_790_000_000)
}

fn fixture(scale: &Scale) -> Fixture {
    let org = generate(scale);
    let policy = Policy::new(&org).unwrap_or_else(|e| panic!("a generated organisation is valid: {e}"));
    let mut rng = Rng::new(7);
    let users: Vec<String> =
        (0..SAMPLE_USERS).map(|_| org.users[rng.below(org.users.len())].id.clone()).collect();
    let views = users.iter().map(|user| policy.user_view(user, now())).collect();
    let project = |rng: &mut Rng| org.projects[rng.below(org.projects.len())].id.clone();
    let pairs = (0..WORKLOAD).map(|_| (rng.below(SAMPLE_USERS), project(&mut rng))).collect();
    let filter_ids = (0..FILTERED).map(|_| project(&mut rng)).collect();
    Fixture { policy, users, views, pairs, filter_ids }
}

fn bench_scale(c: &mut Criterion, name: &str, scale: &Scale) {
    let f = fixture(scale);
    let policy = &f.policy;
    let see = policy.view_question(ResourceKind::Project).unwrap_or_else(|| unreachable!());
    let create = policy.can_question("task.create").unwrap_or_else(|| unreachable!());

    let mut group = c.benchmark_group("decision");
    for (question_name, question) in [("view_project", see), ("task_create", create)] {
        group.bench_function(BenchmarkId::new(question_name, name), |b| {
            let mut i = 0;
            b.iter(|| {
                let (user, project) = &f.pairs[i % WORKLOAD];
                i += 1;
                let allowed = policy
                    .project_index(project)
                    .is_some_and(|p| f.views[*user].answer(policy, question, p, now()));
                black_box(allowed)
            });
        });
    }
    // The Project already resolved (as the npm package's fast path holds it): the decision alone.
    let resolved: Vec<(usize, ProjectIndex)> =
        f.pairs.iter().filter_map(|(user, project)| Some((*user, policy.project_index(project)?))).collect();
    group.bench_function(BenchmarkId::new("task_create_by_index", name), |b| {
        let mut i = 0;
        b.iter(|| {
            let (user, project) = resolved[i % resolved.len()];
            i += 1;
            black_box(f.views[user].answer(policy, create, project, now()))
        });
    });
    let queries: Vec<(usize, Query)> = f.pairs[..4096]
        .iter()
        .map(|(user, project)| (*user, Query::can("task.create", Target::project(project.clone()))))
        .collect();
    group.bench_function(BenchmarkId::new("general_evaluator", name), |b| {
        let mut i = 0;
        b.iter(|| {
            let (user, query) = &queries[i % queries.len()];
            i += 1;
            black_box(policy.allows(&f.users[*user], query, now()))
        });
    });
    group.finish();

    let mut group = c.benchmark_group("filter_100k");
    group.throughput(Throughput::Elements(FILTERED as u64));
    let view = &f.views[0];
    group.bench_function(BenchmarkId::new("ids", name), |b| {
        b.iter(|| {
            f.filter_ids
                .iter()
                .filter(|id| policy.project_index(id).is_some_and(|p| view.answer(policy, see, p, now())))
                .count()
        });
    });
    let indices: Vec<ProjectIndex> = f.filter_ids.iter().filter_map(|id| policy.project_index(id)).collect();
    group.bench_function(BenchmarkId::new("indices", name), |b| {
        b.iter(|| view.answers(policy, see, indices.iter().copied(), now()).filter(|&a| a).count());
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let scales = std::env::var("TESSERA_BENCH_SCALES").unwrap_or_else(|_| "small,medium,large".to_owned());
    for name in scales.split(',').filter(|s| !s.is_empty()) {
        let scale = Scale::preset(name).unwrap_or_else(|| panic!("`{name}` is not a scale"));
        bench_scale(&mut c, name, &scale);
    }
    c.final_summary();
}
