//! [`ImpairedRelay`]: a UDP relay that tests and benchmarks put between the
//! box and the hub, carrying out an [`ImpairmentModel`]'s decisions on real
//! sockets. The IO shell around the sans-IO model in `impairment.rs`.
//!
//! Each [`Route`] (one per RTP or RTCP port: video, audio) has two sockets:
//!
//! ```text
//!   box ──> listen ─[model: up]──> hub_side ──> to (the hub)
//!   box <── listen <─[model: down]─ hub_side <── the hub (any source port)
//! ```
//!
//! The box is configured to send to `listen`; what arrives there goes to
//! `to` from `hub_side`. What arrives at `hub_side`, from any address (a hub
//! may send its return stream from another port than it receives on), goes
//! back from `listen` to wherever the box's last packet on that route came
//! from: the box sends and receives on one port (symmetric RTP), so that is
//! where it listens. Hub packets that arrive before the box has sent
//! anything on the route have nowhere to go and are counted, not modelled.
//!
//! One thread per socket receives (with a read timeout, to see the shutdown
//! flag) and asks the model; one scheduler thread keeps the packets to
//! deliver in a binary heap by due time and sends each when it is due.
//! [`ImpairedRelay::stop`] (or dropping the relay) sets the flag and joins
//! them all; packets still waiting are discarded.
//! [`ImpairedRelay::set_phase`] and [`ImpairedRelay::replace_script`] change
//! the impairments while it runs.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{self, AtomicBool};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::impairment::{
    Decision, Direction, DirectionCounters, ImpairmentModel, Phase, PhasePosition, Script,
};

/// How often blocked threads look at the shutdown flag.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// One path through the relay: the box sends to `listen`, the relay sends on
/// to `to` from a socket bound at `hub_side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The box-side socket: where the box sends (its configured hub
    /// address). Port 0 takes any free port.
    pub listen: SocketAddr,
    /// The hub-side socket: where the relay sends from and the hub sends
    /// back to. Port 0 takes any free port.
    pub hub_side: SocketAddr,
    /// The hub: where the box's packets go.
    pub to: SocketAddr,
}

impl Route {
    /// A route with its hub-side socket on any free port (on the loopback
    /// address if the hub is on it, else on all addresses).
    pub fn new(listen: SocketAddr, to: SocketAddr) -> Route {
        let ip = match to.ip() {
            ip if ip.is_loopback() => ip,
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        Route {
            listen,
            hub_side: SocketAddr::new(ip, 0),
            to,
        }
    }

    /// The same route with its hub-side socket at `hub_side` (for a hub that
    /// sends its return stream to a fixed port).
    pub fn with_hub_side(self, hub_side: SocketAddr) -> Route {
        Route { hub_side, ..self }
    }
}

/// What a relay forwards and how it impairs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayConfig {
    /// The routes, e.g. video RTP, video RTCP, audio RTP, audio RTCP.
    pub routes: Vec<Route>,
    /// The impairments over time, from the relay's start.
    pub script: Script,
    /// The seed of the model's random draws.
    pub seed: u64,
}

impl RelayConfig {
    /// A config without routes yet.
    pub fn new(script: Script, seed: u64) -> RelayConfig {
        RelayConfig {
            routes: Vec::new(),
            script,
            seed,
        }
    }

    /// Adds a route from `listen` to `to` (see [`Route::new`]).
    pub fn route(self, listen: SocketAddr, to: SocketAddr) -> RelayConfig {
        self.with_route(Route::new(listen, to))
    }

    /// Adds a route.
    pub fn with_route(mut self, route: Route) -> RelayConfig {
        self.routes.push(route);
        self
    }
}

/// A route's sockets as bound (the ports picked for port 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundRoute {
    /// Where the box sends.
    pub listen: SocketAddr,
    /// Where the relay sends to the hub from, and the hub sends back to.
    pub hub_side: SocketAddr,
    /// The hub.
    pub to: SocketAddr,
}

/// What the relay has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayCounters {
    /// The model's counters for box → hub.
    pub box_to_hub: DirectionCounters,
    /// The model's counters for hub → box.
    pub hub_to_box: DirectionCounters,
    /// Packets sent on to the hub (counted just after the send: a packet
    /// may be received before it is counted).
    pub sent_to_hub: u64,
    /// Packets sent back to the box (likewise).
    pub sent_to_box: u64,
    /// Packets delivered by the model and not yet due.
    pub waiting: u64,
    /// Hub packets that arrived before the box had sent anything on their
    /// route: nowhere to send them (not given to the model).
    pub before_box_spoke: u64,
    /// Sends that failed.
    pub send_errors: u64,
    /// Receives that failed (other than timeouts).
    pub receive_errors: u64,
}

impl RelayCounters {
    /// The model's counters for one direction.
    pub fn direction(&self, direction: Direction) -> &DirectionCounters {
        match direction {
            Direction::BoxToHub => &self.box_to_hub,
            Direction::HubToBox => &self.hub_to_box,
        }
    }
}

/// A relay that could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A config without routes.
    #[error("a relay needs at least one route")]
    NoRoutes,
    /// A socket could not be bound (the port taken, an address not here).
    #[error("cannot bind UDP {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A bound socket could not be set up.
    #[error("cannot set up the UDP socket on {address}: {source}")]
    Socket {
        /// The socket's address.
        address: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start the relay's thread {thread}: {source}")]
    Spawn {
        /// The thread's name.
        thread: String,
        /// Why.
        source: io::Error,
    },
}

/// A packet the model delivered, waiting for its time.
#[derive(Debug)]
struct Pending {
    at: Instant,
    /// Arrival order, so equal times keep it.
    sequence: u64,
    route: usize,
    direction: Direction,
    destination: SocketAddr,
    payload: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Pending) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Pending) -> Ordering {
        (self.at, self.sequence).cmp(&(other.at, other.sequence))
    }
}

/// Everything the threads share, behind one lock.
struct State {
    model: ImpairmentModel,
    /// Delivered packets by due time, earliest on top.
    due: BinaryHeap<Reverse<Pending>>,
    next_sequence: u64,
    /// Per route: where the box's last packet came from.
    box_addresses: Vec<Option<SocketAddr>>,
    sent_to_hub: u64,
    sent_to_box: u64,
    before_box_spoke: u64,
    send_errors: u64,
    receive_errors: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the scheduler: a packet due earlier than all others, or stop.
    wake: Condvar,
    stopping: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A thread that panicked holding the lock left counters at worst.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> bool {
        self.stopping.load(atomic::Ordering::Acquire)
    }

    /// A packet arrived on `route`'s socket for `direction`, from `from`.
    fn arrived(&self, route: &RouteSide, from: SocketAddr, payload: &[u8]) {
        let mut state = self.lock();
        // Read the clock under the lock: the model sees times in order.
        let now = Instant::now();
        let destination = match route.direction {
            Direction::BoxToHub => {
                state.box_addresses[route.index] = Some(from);
                route.hub
            }
            Direction::HubToBox => match state.box_addresses[route.index] {
                Some(the_box) => the_box,
                None => {
                    state.before_box_spoke += 1;
                    return;
                }
            },
        };
        if let Decision::Deliver { at } =
            state
                .model
                .handle_packet(route.direction, payload.len(), now)
        {
            let earliest = state.due.peek().is_none_or(|Reverse(first)| at < first.at);
            let sequence = state.next_sequence;
            state.next_sequence += 1;
            state.due.push(Reverse(Pending {
                at,
                sequence,
                route: route.index,
                direction: route.direction,
                destination,
                payload: payload.to_vec(),
            }));
            if earliest {
                self.wake.notify_one();
            }
        }
    }
}

/// What a receiving thread needs to know about its socket.
struct RouteSide {
    index: usize,
    direction: Direction,
    hub: SocketAddr,
}

/// A route's two sockets.
struct RouteSockets {
    box_side: Arc<UdpSocket>,
    hub_side: Arc<UdpSocket>,
}

/// A running relay; stopped (threads joined) by [`ImpairedRelay::stop`] or
/// when dropped.
pub struct ImpairedRelay {
    shared: Arc<Shared>,
    routes: Vec<BoundRoute>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ImpairedRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImpairedRelay")
            .field("routes", &self.routes)
            .field("running", &!self.threads.is_empty())
            .finish_non_exhaustive()
    }
}

fn bind(address: SocketAddr) -> Result<(UdpSocket, SocketAddr), RelayError> {
    let socket = UdpSocket::bind(address).map_err(|source| RelayError::Bind { address, source })?;
    let setup = |source| RelayError::Socket { address, source };
    socket
        .set_read_timeout(Some(POLL_INTERVAL))
        .map_err(setup)?;
    let bound = socket.local_addr().map_err(setup)?;
    Ok((socket, bound))
}

impl ImpairedRelay {
    /// Binds every route's sockets and starts relaying; the script's time
    /// starts now.
    pub fn start(config: RelayConfig) -> Result<ImpairedRelay, RelayError> {
        if config.routes.is_empty() {
            return Err(RelayError::NoRoutes);
        }
        let mut sockets = Vec::with_capacity(config.routes.len());
        let mut routes = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            let (box_side, listen) = bind(route.listen)?;
            let (hub_side, hub_side_address) = bind(route.hub_side)?;
            routes.push(BoundRoute {
                listen,
                hub_side: hub_side_address,
                to: route.to,
            });
            sockets.push(RouteSockets {
                box_side: Arc::new(box_side),
                hub_side: Arc::new(hub_side),
            });
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                model: ImpairmentModel::new(config.script, config.seed, Instant::now()),
                due: BinaryHeap::new(),
                next_sequence: 0,
                box_addresses: vec![None; routes.len()],
                sent_to_hub: 0,
                sent_to_box: 0,
                before_box_spoke: 0,
                send_errors: 0,
                receive_errors: 0,
            }),
            wake: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        // From here on, an early return drops `relay`, which joins what
        // was started.
        let mut relay = ImpairedRelay {
            shared,
            routes,
            threads: Vec::new(),
        };
        for (index, (route, pair)) in relay.routes.clone().iter().zip(&sockets).enumerate() {
            for (socket, direction) in [
                (&pair.box_side, Direction::BoxToHub),
                (&pair.hub_side, Direction::HubToBox),
            ] {
                let side = RouteSide {
                    index,
                    direction,
                    hub: route.to,
                };
                let socket = Arc::clone(socket);
                let shared = Arc::clone(&relay.shared);
                relay.spawn(
                    format!("relay-{}-{index}", direction.short_name()),
                    move || receive(&shared, &socket, &side),
                )?;
            }
        }
        let shared = Arc::clone(&relay.shared);
        relay.spawn("relay-schedule".to_owned(), move || {
            schedule(&shared, &sockets)
        })?;
        Ok(relay)
    }

    fn spawn(
        &mut self,
        name: String,
        run: impl FnOnce() + Send + 'static,
    ) -> Result<(), RelayError> {
        let thread = thread::Builder::new()
            .name(name.clone())
            .spawn(run)
            .map_err(|source| RelayError::Spawn {
                thread: name,
                source,
            })?;
        self.threads.push(thread);
        Ok(())
    }

    /// The routes as bound, in the config's order.
    pub fn routes(&self) -> &[BoundRoute] {
        &self.routes
    }

    /// The counters so far (the queue as it is now). Still readable after
    /// [`ImpairedRelay::stop`].
    pub fn counters(&self) -> RelayCounters {
        let state = self.shared.lock();
        let now = Instant::now();
        RelayCounters {
            box_to_hub: state.model.counters(Direction::BoxToHub, now),
            hub_to_box: state.model.counters(Direction::HubToBox, now),
            sent_to_hub: state.sent_to_hub,
            sent_to_box: state.sent_to_box,
            waiting: state.due.len() as u64,
            before_box_spoke: state.before_box_spoke,
            send_errors: state.send_errors,
            receive_errors: state.receive_errors,
        }
    }

    /// Runs just `phase` from now on (a clear link after it, if it has a
    /// duration): e.g. `Phase::clear(None)` lifts every impairment.
    pub fn set_phase(&self, phase: Phase) {
        self.shared.lock().model.set_phase(phase, Instant::now());
    }

    /// Runs `script` from now on. Packets already waiting keep their times.
    pub fn replace_script(&self, script: Script) {
        self.shared
            .lock()
            .model
            .replace_script(script, Instant::now());
    }

    /// The script running.
    pub fn script(&self) -> Script {
        self.shared.lock().model.script().clone()
    }

    /// Where the script is now (`None`: no phase in force, a clear link).
    pub fn position(&self) -> Option<PhasePosition> {
        self.shared.lock().model.position(Instant::now())
    }

    /// Whether the script has run out.
    pub fn script_finished(&self) -> bool {
        self.shared.lock().model.script_finished(Instant::now())
    }

    /// Stops relaying: every thread is told and joined (within about
    /// 50 ms); packets still waiting are discarded. Calling it again does
    /// nothing.
    pub fn stop(&mut self) {
        self.shared.stopping.store(true, atomic::Ordering::Release);
        {
            // Under the lock, so the scheduler is either waiting (and is
            // woken) or will see the flag before it waits.
            let _state = self.shared.lock();
            self.shared.wake.notify_all();
        }
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing more to say here.
            let _ = thread.join();
        }
    }
}

impl Drop for ImpairedRelay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A receiving thread: every packet on `socket` goes to the model.
fn receive(shared: &Shared, socket: &UdpSocket, side: &RouteSide) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    while !shared.stopping() {
        match socket.recv_from(&mut buffer) {
            Ok((length, from)) => shared.arrived(side, from, &buffer[..length]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                shared.lock().receive_errors += 1;
                // Not a busy loop if the error repeats.
                thread::sleep(POLL_INTERVAL / 10);
            }
        }
    }
}

/// The scheduler thread: sends each delivered packet when it is due.
fn schedule(shared: &Shared, sockets: &[RouteSockets]) {
    let mut ready = Vec::new();
    let mut state = shared.lock();
    while !shared.stopping() {
        let now = Instant::now();
        while state
            .due
            .peek()
            .is_some_and(|Reverse(first)| first.at <= now)
        {
            if let Some(Reverse(packet)) = state.due.pop() {
                ready.push(packet);
            }
        }
        if ready.is_empty() {
            let wait = state
                .due
                .peek()
                .map_or(POLL_INTERVAL, |Reverse(first)| first.at - now)
                .min(POLL_INTERVAL);
            state = shared
                .wake
                .wait_timeout(state, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        // Send without the lock: the receivers go on meanwhile.
        drop(state);
        let (mut to_hub, mut to_box, mut errors) = (0, 0, 0);
        for packet in ready.drain(..) {
            let pair = &sockets[packet.route];
            let (socket, sent) = match packet.direction {
                Direction::BoxToHub => (&pair.hub_side, &mut to_hub),
                Direction::HubToBox => (&pair.box_side, &mut to_box),
            };
            match socket.send_to(&packet.payload, packet.destination) {
                Ok(_) => *sent += 1,
                Err(_) => errors += 1,
            }
        }
        state = shared.lock();
        state.sent_to_hub += to_hub;
        state.sent_to_box += to_box;
        state.send_errors += errors;
    }
}
