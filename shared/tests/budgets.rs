//! One budget, many workers: the buckets in memory (`ccbulk run`'s tasks) and in the job table on moto (the
//! Lambdas), held to one contract with the workers truly at once, then the shared table under real Connect calls.

#[path = "common/connect_client.rs"]
mod connect_client;

use std::sync::Arc;

use ccbulk_sandbox::connect::{ConnectSandbox, ConnectSeed, Knobs, Op, QuotaSpec};
use ccbulk_shared::budget::{Budget, DynamoBudget, Limit, LocalBudget, Micros, now_micros};
use ccbulk_shared::connect::{ConnectProvisioner, Directory, Pacer, RateBudget};
use ccbulk_shared::domain::{ConnectUser, IdentityInfo, IdentityManagement, Password, ResourceRef};
use ccbulk_testkit::{Moto, aws_config_for, create_jobs_table, moto, unique};
use connect_client::client;

const LIMIT: Limit = Limit { per_second: 10.0, burst: 5 };
const PERIOD: Micros = 100_000;

/// Handles on one table's budget, each with its own client and cache, as separate Lambda containers have; moto
/// runs while the `Moto` is kept.
async fn table_budgets(count: usize) -> (Moto, Vec<Arc<dyn Budget>>) {
    let moto = moto();
    let config = aws_config_for(&moto.endpoint);
    let table = unique("budget");
    create_jobs_table(&aws_sdk_dynamodb::Client::new(&config), &table).await;
    let budgets = (0..count)
        .map(|_| Arc::new(DynamoBudget::new(aws_sdk_dynamodb::Client::new(&config), &table, "instance-1")) as _)
        .collect();
    (moto, budgets)
}

fn local_budgets(count: usize) -> Vec<Arc<dyn Budget>> {
    let shared: Arc<dyn Budget> = Arc::new(LocalBudget::default());
    vec![shared; count]
}

/// Workers take slots at once, a few at a time; together they keep to the limit, and together they get all of it.
async fn workers_at_once_share_the_rate_and_get_all_of_it(budgets: Vec<Arc<dyn Budget>>) {
    let started = now_micros();
    let tasks = budgets.iter().enumerate().map(|(worker, budget)| {
        let budget = budget.clone();
        tokio::spawn(async move {
            let mut slots = Vec::new();
            for take in 0..10u32 {
                slots.extend(budget.reserve("CreateUser", LIMIT, (take + worker as u32) % 3 + 1).await.unwrap());
            }
            slots
        })
    });
    let mut slots: Vec<Micros> = Vec::new();
    for task in futures_util::future::join_all(tasks).await {
        slots.extend(task.unwrap());
    }
    slots.sort_unstable();
    let taken = slots.len();
    // GCRA at the limit: the k-th slot after any other is at least (k - spare burst) periods later. The burst less
    // the one call kept back is 4.
    for (i, first) in slots.iter().enumerate() {
        for (k, later) in slots[i + 1..].iter().enumerate().map(|(k, t)| (k as u64 + 1, t)) {
            let least = k.saturating_sub(3) * PERIOD;
            assert!(
                later - first + 1 >= least,
                "slot {} is {} µs after slot {i}: at most {least}",
                i + k as usize,
                later - first
            );
        }
    }
    // No worker's slot was lost to another's: the slots run back to back from the first call.
    let span = slots[taken - 1] - started;
    assert!(span <= (taken as u64) * PERIOD, "{taken} slots over {span} µs: the rate was not all given");
    let ends = slots[taken - 1] - slots[0];
    assert!(ends + 4 * PERIOD >= (taken as u64 - 1) * PERIOD, "{taken} slots within {ends} µs: over the rate");
}

#[tokio::test]
async fn workers_sharing_the_table_keep_to_the_rate_and_get_all_of_it() {
    let (_moto, budgets) = table_budgets(4).await;
    workers_at_once_share_the_rate_and_get_all_of_it(budgets).await;
}

#[tokio::test]
async fn tasks_sharing_memory_keep_to_the_rate_and_get_all_of_it() {
    workers_at_once_share_the_rate_and_get_all_of_it(local_budgets(4)).await;
}

/// A throttle one container meets cuts the rate every container then takes, and only once per crowd: a lone
/// throttle nudges the rate, one right after the nudge cuts it.
#[tokio::test]
async fn a_throttle_one_worker_meets_cuts_the_rate_of_all() {
    let (_moto, budgets) = table_budgets(2).await;
    let taken = now_micros();
    budgets[0].reserve("CreateUser", LIMIT, 1).await.unwrap();
    assert_eq!(budgets[1].rate("CreateUser", LIMIT).await.unwrap(), 10.0);
    budgets[0].throttled("CreateUser", LIMIT, taken).await.unwrap();
    let nudged = budgets[1].rate("CreateUser", LIMIT).await.unwrap();
    assert!((9.5..9.8).contains(&nudged), "the other worker sees the rate nudged down: {nudged}");
    // Another call of the same crowd (its slot taken before the cut) does not cut again.
    budgets[1].throttled("CreateUser", LIMIT, taken).await.unwrap();
    let still = budgets[0].rate("CreateUser", LIMIT).await.unwrap();
    assert!((9.5..9.8).contains(&still), "{still}");
    // A call sent after the nudge and throttled as well: the quota is shared, and the full cut follows.
    let after = now_micros();
    budgets[1].throttled("CreateUser", LIMIT, after).await.unwrap();
    let cut = budgets[0].rate("CreateUser", LIMIT).await.unwrap();
    assert!((6.6..7.3).contains(&cut), "{cut}");
    assert_eq!(budgets[0].rate("DeleteUser", LIMIT).await.unwrap(), 10.0, "each API has its own bucket");
}

/// Two containers, each set to the account's whole CreateUser rate, share it through the table: every user is
/// created and the account never throttles one of their calls. (Each alone at the whole rate would be throttled;
/// each at a fixed half would idle whenever the other has nothing to do.)
#[tokio::test]
async fn containers_at_the_whole_rate_share_it_through_the_table_without_a_throttle() {
    let mut quotas: std::collections::BTreeMap<String, QuotaSpec> =
        Op::ALL.iter().map(|op| (op.name().to_owned(), QuotaSpec { rate: 10_000.0, burst: 10_000 })).collect();
    quotas.insert("CreateUser".into(), QuotaSpec { rate: 5.0, burst: 3 });
    let knobs = Knobs { quotas, ..Knobs::default() };
    let sandbox =
        ConnectSandbox::start(ConnectSeed { knobs, ..ConnectSeed::default() }, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let instance = sandbox.default_instance_id().to_owned();
    let limits = RateBudget { write_per_second: 5.0, write_burst: 3, read_per_second: 10_000.0, read_burst: 10_000 };
    let (_moto, budgets) = table_budgets(2).await;
    let pacers: Vec<Pacer> = budgets.into_iter().map(|budget| Pacer::shared(limits, budget, 2)).collect();
    let client = client(&sandbox);
    let user = ConnectUser {
        password: Some(Password::new("Sandbox-Pass-1".into())),
        identity: IdentityInfo {
            first_name: Some("Pat".into()),
            last_name: Some("Lee".into()),
            ..IdentityInfo::default()
        },
        routing_profile: Some(ResourceRef::Name("Basic Routing Profile".into())),
        security_profiles: vec![ResourceRef::Name("Agent".into())],
        ..ConnectUser::default()
    };
    const PER_CONTAINER: usize = 8;
    let containers = pacers.iter().enumerate().map(|(container, pacer)| {
        let (client, instance, user) = (&client, instance.as_str(), &user);
        async move {
            let connect = ConnectProvisioner {
                client,
                instance_id: instance,
                identity: IdentityManagement::ConnectManaged,
                pacer,
            };
            let directory = Directory::load(client, instance, pacer).await.unwrap();
            let adds = (0..PER_CONTAINER).map(|i| {
                let username = format!("shared{container}x{i}");
                let directory = &directory;
                let connect = &connect;
                async move { connect.add(directory, &username, user, "job/2").await }
            });
            futures_util::future::join_all(adds).await
        }
    });
    for outcomes in futures_util::future::join_all(containers).await {
        for outcome in outcomes {
            assert!(outcome.unwrap().created);
        }
    }
    let counters = sandbox.snapshot().counters;
    assert_eq!(counters.calls["CreateUser"], 2 * PER_CONTAINER as u64, "{counters:?}");
    assert_eq!(counters.throttled.get("CreateUser"), None, "{counters:?}");
}
