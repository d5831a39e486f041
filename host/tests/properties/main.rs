//! Property tests (proptest) of idic's pure rules, through the `idic` library:
//! the scheduler over long simulated spans with an injected clock, and the
//! decoder against every numeric answer the simulator can produce. No process,
//! no socket: this binary runs in seconds.

// Timers: no drift, no burst, every key at its interval.
mod schedule;
// Answers to points: exactly the simulator's numbers.
mod decode;
