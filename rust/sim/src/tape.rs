//! Tapes: a fixed sequence of market-data frames that every subscribed connection of a market
//! plays, at a set rate or as fast as its socket takes them. Benchmarks use them to push
//! hundreds of thousands of messages a second while the simulator does no work per message.
//!
//! A tape is either recorded from the synthetic market (deterministic from a seed: the same
//! seed and step count give the same frames) or loaded from a recorded JSON-lines file. A
//! recorded tape knows where it leads: when it plays, the live market jumps to the state at its
//! end, so REST snapshots, the ground truth and the venue's later updates all continue from
//! what the frames describe. A loaded file is shapes only and moves no book.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast::error::TryRecvError;
use tokio::time::{Instant, sleep_until};

use crate::book::Dirty;
use crate::exchange::{Event, Exchange, SymbolState};
use crate::market::Market;
use crate::synth::Walk;

/// One message of a tape.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The symbol it is about, as the venue spells it in REST (`BTCUSDT`).
    pub symbol: String,
    /// Binance: the stream kind (`depth`, `trade`, `aggTrade`, `bookTicker`, `ticker`,
    /// `miniTicker`); Bybit: the topic (`orderbook.50.BTCUSDT`).
    pub route: String,
    /// Binance: the event (a combined stream wraps it); Bybit: the whole message.
    pub text: String,
    /// What names it within its route: the book update id (Binance `u`, the Bybit topic's `u`)
    /// or the trade id; 0 in a loaded file.
    pub id: u64,
}

type Finish = Box<dyn FnOnce(&mut Exchange) + Send>;

/// Frames, and for a recorded tape the book it starts from and what playing it does.
pub struct Tape {
    pub frames: Vec<Frame>,
    /// `(symbol, book update id)` the tape was recorded from.
    start: Option<(String, u64)>,
    finish: Mutex<Option<Finish>>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape")
            .field("frames", &self.frames.len())
            .field("start", &self.start)
            .finish()
    }
}

impl Tape {
    /// A tape that moves no book (a replayed file).
    pub fn loaded(frames: Vec<Frame>) -> Tape {
        Tape {
            frames,
            start: None,
            finish: Mutex::new(None),
        }
    }

    /// A recorded tape: playing it checks the book is still at `start` and runs `finish`.
    pub fn recorded(frames: Vec<Frame>, start: (String, u64), finish: Finish) -> Tape {
        Tape {
            frames,
            start: Some(start),
            finish: Mutex::new(Some(finish)),
        }
    }
}

/// A tape being played, as sessions see it.
#[derive(Debug)]
pub struct Play {
    pub tape: Arc<Tape>,
    /// Frames per second of tape time; `None`: as fast as each socket takes them.
    pub rate: Option<u32>,
    /// Paced frame by frame: a session spins (yielding) through the last millisecond before a
    /// frame is due instead of sleeping on the 1 ms timer, which sends a rate in 1 ms bursts.
    /// Costs a simulator core while it plays.
    pub precise: bool,
    /// Every frame written to a connection, in the order written: (frame index, wall-clock ns
    /// since the Unix epoch when the session started writing it to the socket).
    sent: Mutex<Vec<(u32, u64)>>,
}

impl Play {
    pub fn new(tape: Arc<Tape>, rate: Option<u32>, precise: bool) -> Play {
        Play {
            tape,
            rate: rate.filter(|r| *r > 0),
            precise,
            sent: Mutex::new(Vec::new()),
        }
    }

    /// The frames written so far (once per connection that took them), in the order written,
    /// with their send times (see [`Play`]), as `(frame, wall-clock ns)`.
    pub fn sends(&self) -> Vec<(&Frame, u64)> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter()
            .map(|(index, ns)| (&self.tape.frames[*index as usize], *ns))
            .collect()
    }

    fn stamp(&self, indices: &mut Vec<u32>) {
        let ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.extend(indices.drain(..).map(|index| (index, ns)));
    }
}

/// Runs `steps` steps of the synthetic market on a copy of `symbol` and reports each step's
/// book changes and trades; returns the symbol's state after the last step. The live market is
/// paused first (the tape must start where the live book is when it plays) and stays paused.
pub fn record(
    market: &Market,
    symbol: &str,
    steps: usize,
    seed: u64,
    mut on_step: impl FnMut(&SymbolState, Dirty, &[Event], i64),
) -> Result<(SymbolState, u64), String> {
    market.paused.store(true, Ordering::Release);
    let mut scratch = {
        let ex = market.lock();
        let Some(state) = ex.symbols.get(symbol) else {
            return Err(format!("{symbol} is not listed"));
        };
        if state.book.has_orders() {
            return Err(format!(
                "{symbol} has account orders resting: tapes are recorded on market liquidity only"
            ));
        }
        let mut scratch = Exchange::new(ex.kind, std::slice::from_ref(&state.spec), 1);
        scratch.symbols.insert(symbol.to_owned(), state.clone());
        scratch
    };
    let start_id = scratch.symbols[symbol].book.update_id;
    let publisher = scratch
        .symbols
        .get_mut(symbol)
        .expect("symbol")
        .book
        .add_publisher();
    let mut events = scratch.subscribe();
    let mut walk = Walk::resume(&scratch, symbol, seed);
    let now_ms = market.clock.now_ms();
    let mut trades = Vec::new();
    for _ in 0..steps {
        walk.step(&mut scratch, now_ms);
        let state = scratch.symbols.get_mut(symbol).expect("symbol");
        let dirty = state.book.take_dirty(publisher);
        trades.clear();
        loop {
            match events.try_recv() {
                // Trades only: a perpetual's liquidations are no frame of a tape.
                Ok(event) if matches!(*event, crate::exchange::Event::Trade { .. }) => {
                    trades.push((*event).clone())
                }
                Ok(_) => {}
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        on_step(&scratch.symbols[symbol], dirty, &trades, now_ms);
    }
    let mut end = scratch.symbols.remove(symbol).expect("symbol");
    end.book.remove_publisher(publisher);
    Ok((end, start_id))
}

/// What playing a recorded tape does to the live exchange: `symbol` becomes `end`, and the
/// depth publishers continue after it.
pub fn jump_to(ex: &mut Exchange, symbol: &str, mut end: SymbolState) {
    end.book.forget_dirty();
    ex.symbols.insert(symbol.to_owned(), end);
}

impl Market {
    /// Makes `tape` the one `play_tape` plays.
    pub fn load_tape(&self, tape: Tape) -> usize {
        let frames = tape.frames.len();
        *self.tape.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(tape));
        frames
    }

    /// Every open connection starts playing the loaded tape: the frames it is subscribed to,
    /// in order. A recorded tape first moves the live book to the tape's end.
    pub fn play_tape(&self, rate: Option<u32>) -> Result<usize, String> {
        self.play_tape_paced(rate, false)
    }

    /// [`Market::play_tape`], `precise`ly paced or not (see [`Play::precise`]).
    pub fn play_tape_paced(&self, rate: Option<u32>, precise: bool) -> Result<usize, String> {
        let tape = self
            .tape
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or("no tape is loaded")?;
        if let Some((symbol, start)) = &tape.start {
            let mut ex = self.lock();
            let now = ex.symbols.get(symbol).map(|s| s.book.update_id);
            if now != Some(*start) {
                return Err(format!(
                    "the {symbol} book moved since the tape was recorded (update id {start} then, {now:?} now); record it again"
                ));
            }
            if let Some(finish) = tape.finish.lock().unwrap_or_else(|p| p.into_inner()).take() {
                finish(&mut ex);
            }
        }
        let frames = tape.frames.len();
        // The finished play goes first, here: freeing a long tape (millions of frames) takes
        // long enough to hold up the sessions if it overlapped the new play's first frames.
        let mut finished = None;
        self.plays.send_if_modified(|play| {
            finished = play.take();
            false
        });
        drop(finished);
        self.plays
            .send_replace(Some(Arc::new(Play::new(tape, rate, precise))));
        Ok(frames)
    }

    /// The loaded tape's frames as `(route, id)`, in tape order.
    pub fn tape_frames(&self) -> Vec<(String, u64)> {
        let tape = self.tape.lock().unwrap_or_else(|p| p.into_inner()).clone();
        tape.map(|t| t.frames.iter().map(|f| (f.route.clone(), f.id)).collect())
            .unwrap_or_default()
    }

    /// The current play's frames written so far, as `(route, id, wall-clock ns)` (see
    /// [`Play::sends`]); only frames of `route` if given.
    pub fn tape_sends(&self, route: Option<&str>) -> Vec<(String, u64, u64)> {
        let play = self.plays.borrow().clone();
        let Some(play) = play else {
            return Vec::new();
        };
        play.sends()
            .into_iter()
            .filter(|(f, _)| route.is_none_or(|r| f.route == r))
            .map(|(f, ns)| (f.route.clone(), f.id, ns))
            .collect()
    }
}

/// One connection's progress through a play.
#[derive(Debug)]
pub struct Player {
    play: Arc<Play>,
    next: usize,
    started: Instant,
    /// Frames queued for the connection and not yet written.
    unsent: Vec<u32>,
}

/// Frames a session takes per turn, so pings and reads interleave with a long tape.
const TURN: usize = 256;

/// How close to a frame's time a precise play spins instead of sleeping: the timer's resolution.
const SPIN: Duration = Duration::from_millis(1);

impl Player {
    pub fn new(play: Arc<Play>) -> Player {
        Player {
            play,
            next: 0,
            started: Instant::now(),
            unsent: Vec::new(),
        }
    }

    pub fn done(&self) -> bool {
        self.next >= self.play.tape.frames.len()
    }

    /// When frame `index` is due at the play's rate.
    fn due(&self, index: usize) -> Instant {
        match self.play.rate {
            Some(rate) => {
                self.started + Duration::from_secs_f64(index as f64 / f64::from(rate.max(1)))
            }
            None => self.started,
        }
    }

    /// Passes the frames due now (at most a turn's worth) to `deliver`, which says whether it
    /// queued the frame for the connection.
    pub fn take(&mut self, mut deliver: impl FnMut(&Frame) -> bool) {
        let now = Instant::now();
        let frames = &self.play.tape.frames;
        let end = (self.next + TURN).min(frames.len());
        while self.next < end && self.due(self.next) <= now {
            if deliver(&frames[self.next]) {
                self.unsent.push(self.next as u32);
            }
            self.next += 1;
        }
    }

    /// The session writes what it queued now: the frames it took are sent at this time.
    pub fn writing(&mut self) {
        if !self.unsent.is_empty() {
            self.play.stamp(&mut self.unsent);
        }
    }
}

/// A session's view of the market's plays: the current player, if any.
#[derive(Debug)]
pub struct Deck {
    plays: tokio::sync::watch::Receiver<Option<Arc<Play>>>,
    pub player: Option<Player>,
}

impl Deck {
    pub fn new(market: &Market) -> Deck {
        let mut plays = market.plays.subscribe();
        plays.mark_unchanged();
        Deck {
            plays,
            player: None,
        }
    }

    /// Resolves when a new play starts (the session then plays it from the first frame) or
    /// when the current play's next frame is due.
    pub async fn turn(&mut self) {
        let due = self
            .player
            .as_ref()
            .filter(|p| !p.done())
            .map(|p| (p.due(p.next), p.play.precise));
        tokio::select! {
            changed = self.plays.changed() => {
                if changed.is_ok() {
                    let next = self.plays.borrow_and_update().clone().map(Player::new);
                    if let Some(previous) = std::mem::replace(&mut self.player, next) {
                        release(previous);
                    }
                } else {
                    std::future::pending::<()>().await;
                }
            }
            _ = async {
                match due {
                    Some((at, true)) if at < Instant::now() + SPIN => tokio::task::yield_now().await,
                    Some((at, _)) => sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }

    /// The frames due now, if a play is on; `deliver` says whether it queued the frame.
    pub fn take(&mut self, deliver: impl FnMut(&Frame) -> bool) {
        if let Some(player) = &mut self.player {
            player.take(deliver);
        }
    }

    /// The session writes what it queued now: the frames it took are sent at this time. A
    /// play the session is done with is let go.
    pub fn writing(&mut self) {
        if let Some(player) = &mut self.player {
            player.writing();
            if player.done()
                && let Some(done) = self.player.take()
            {
                release(done);
            }
        }
    }
}

/// Lets go of a player off the session's task: if it held the last reference to a long tape,
/// freeing millions of frames there would stall the session's sends.
fn release(player: Player) {
    tokio::task::spawn_blocking(move || drop(player));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;
    use crate::clock::VenueClock;
    use crate::config::SimConfig;
    use crate::exchange::Kind;

    fn market() -> Arc<Market> {
        let cfg = SimConfig::default();
        let mut ex = Exchange::new(Kind::Spot, &cfg.spot_symbols, 1);
        Walk::new(&ex, "BTCUSDT", 1, 1).seed_book(&mut ex);
        let speeds = vec![Duration::from_millis(100)];
        let market = Market::new(Kind::Spot, ex, Arc::new(VenueClock::default()), speeds);
        market
            .lock()
            .symbols
            .get_mut("BTCUSDT")
            .unwrap()
            .book
            .add_publisher();
        market
    }

    fn levels(state: &SymbolState) -> Vec<(i64, i64)> {
        state.book.levels(Side::Buy, 1000)
    }

    #[test]
    fn a_recording_is_deterministic_and_leaves_the_live_book_alone() {
        let market = market();
        let before = levels(&market.lock().symbols["BTCUSDT"]);
        let mut diffs = Vec::new();
        let record = |diffs: &mut Vec<(u64, u64)>| {
            record(&market, "BTCUSDT", 500, 3, |_, dirty, _, _| {
                if let Some(first) = dirty.first_id {
                    diffs.push((first, dirty.last_id));
                }
            })
            .unwrap()
        };
        let (end, start) = record(&mut diffs);
        assert!(market.paused.load(Ordering::Acquire));
        assert_eq!(levels(&market.lock().symbols["BTCUSDT"]), before);
        // The diffs chain from the start to the end with no gap.
        assert_eq!(diffs.first().unwrap().0, start + 1);
        assert!(diffs.windows(2).all(|w| w[1].0 == w[0].1 + 1));
        assert_eq!(diffs.last().unwrap().1, end.book.update_id);

        let mut again = Vec::new();
        let (end_again, _) = record(&mut again);
        assert_eq!((again, levels(&end_again)), (diffs, levels(&end)));
    }

    #[test]
    fn a_play_logs_each_frame_a_connection_took_when_written() {
        let frame = |route: &str, id| Frame {
            symbol: "BTCUSDT".to_owned(),
            route: route.to_owned(),
            text: String::new(),
            id,
        };
        let tape = Tape::loaded(vec![
            frame("depth", 7),
            frame("trade", 3),
            frame("depth", 8),
        ]);
        let play = Arc::new(Play::new(Arc::new(tape), None, false));
        let (mut depth, mut trades) = (Player::new(play.clone()), Player::new(play.clone()));
        depth.take(|f| f.route == "depth");
        trades.take(|f| f.route == "trade");
        assert!(play.sends().is_empty(), "nothing is sent before the write");
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        depth.writing();
        trades.writing();
        trades.writing();
        let sends: Vec<(&str, u64, u64)> = play
            .sends()
            .into_iter()
            .map(|(f, ns)| (f.route.as_str(), f.id, ns))
            .collect();
        assert_eq!(
            sends.iter().map(|(r, id, _)| (*r, *id)).collect::<Vec<_>>(),
            [("depth", 7), ("depth", 8), ("trade", 3)]
        );
        assert!(sends.iter().all(|(_, _, ns)| *ns >= before));
    }

    #[test]
    fn playing_jumps_the_live_book_and_its_publishers_past_the_tape() {
        let market = market();
        let (end, start) = record(&market, "BTCUSDT", 200, 3, |_, _, _, _| {}).unwrap();
        let final_id = end.book.update_id;
        let expected = levels(&end);
        let name = "BTCUSDT".to_owned();
        market.load_tape(Tape::recorded(
            Vec::new(),
            (name.clone(), start),
            Box::new(move |ex| jump_to(ex, &name, end)),
        ));
        market.play_tape(None).unwrap();
        let mut ex = market.lock();
        let book = &mut ex.symbols.get_mut("BTCUSDT").unwrap().book;
        assert_eq!(book.levels(Side::Buy, 1000), expected);
        let dirty = book.take_dirty(0);
        assert_eq!((dirty.first_id, dirty.since), (None, final_id));
        drop(ex);
        assert!(market.play_tape(None).unwrap_err().contains("moved since"));
    }
}
