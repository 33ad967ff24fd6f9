//! How fast the simulator pushes a tape to one client over loopback: a recorded synthetic
//! market (one Binance `depthUpdate` per step) played as fast as the socket takes it, read by a
//! tokio-tungstenite client that counts frames. Issue 9's peer benchmarks need ≥ 200,000
//! messages/s from the simulator so that it is never the bottleneck.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use tradewire_sim::{SimConfig, Simulator, binance};

const STEPS: usize = 50_000;

fn tape_to_one_client(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = runtime
        .block_on(Simulator::start(SimConfig {
            steps_per_second: 0,
            ..SimConfig::default()
        }))
        .expect("simulator");
    let url = format!(
        "{}/ws/btcusdt@depth@100ms",
        sim.binance_endpoints(true).ws_public
    );
    let (mut client, _) = runtime
        .block_on(tokio_tungstenite::connect_async(url))
        .expect("connect");
    let st = sim.binance_spot.clone();
    let record = || {
        let tape = binance::tape::record(&st, "BTCUSDT", STEPS, 1).expect("tape");
        let frames = tape.frames.iter().filter(|f| f.route == "depth").count();
        st.market.load_tape(tape);
        frames
    };
    // Every tape has about one diff per step; the first sets the reported throughput.
    let frames = record();
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(frames as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("tape → 1 client, depthUpdate frames", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let expected = record();
                let started = Instant::now();
                st.market.play_tape(None).expect("play");
                runtime.block_on(async {
                    for _ in 0..expected {
                        client.next().await.expect("open").expect("frame");
                    }
                });
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
    sim.shutdown();
}

criterion_group!(benches, tape_to_one_client);
criterion_main!(benches);
