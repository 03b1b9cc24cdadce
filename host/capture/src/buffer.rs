//! The replay buffer: each camera's compressed frames for the last seconds, within a memory
//! bound, and the grouping of decoded frames into synchronised frame sets.

use std::collections::VecDeque;
use std::time::Duration;

/// One compressed frame as the camera sent it.
#[derive(Clone, Debug)]
pub struct AccessUnit {
    /// When it arrived, on the rig's common clock (running time).
    pub t: Duration,
    /// Its presentation timestamp in its own stream, for the decoder.
    pub pts: Option<Duration>,
    /// Its decoding timestamp in its own stream.
    pub dts: Option<Duration>,
    /// Whether a decoder can start here.
    pub key: bool,
    /// The bytes (H.264 byte-stream, one access unit).
    pub data: std::sync::Arc<[u8]>,
}

/// What one camera's stream has done, for `capture watch`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraStats {
    /// Frames received.
    pub frames: u64,
    /// Frames missing, from gaps in arrival longer than 1.5 frame periods.
    pub drops: u64,
    /// Frames that arrived more than half a period behind the nominal schedule (the first
    /// frame's arrival plus a period per frame, gaps counted as drops).
    pub late: u64,
    /// Seconds the last frame arrived behind (positive) or ahead of that schedule.
    pub drift: f64,
    /// Frames per second over the last two seconds.
    pub rate: f64,
    /// Arrival of the last frame.
    pub last: Option<Duration>,
}

/// A camera's access units, oldest first, with the bookkeeping of its stream.
#[derive(Debug, Default)]
pub struct ReplayBuffer {
    units: VecDeque<AccessUnit>,
    bytes: u64,
    period: Duration,
    stats: CameraStats,
    /// Arrival of the first frame of the current run, and frames since.
    epoch: Option<(Duration, u64)>,
}

/// Bytes an access unit costs beyond its data (the struct and the deque slot).
const UNIT_OVERHEAD: u64 = 96;

impl ReplayBuffer {
    /// A buffer for a stream of nominally `fps` frames per second.
    pub fn new(fps: f64) -> ReplayBuffer {
        ReplayBuffer {
            period: Duration::from_secs_f64(1.0 / fps.max(1.0)),
            ..ReplayBuffer::default()
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Seconds held, from the oldest to the newest frame.
    pub fn span(&self) -> Duration {
        match (self.units.front(), self.units.back()) {
            (Some(a), Some(b)) => b.t.saturating_sub(a.t),
            _ => Duration::ZERO,
        }
    }

    /// The stream's statistics.
    pub fn stats(&self) -> &CameraStats {
        &self.stats
    }

    /// Marks a restart: drift and lateness count afresh from the next frame.
    pub fn restart(&mut self) {
        self.epoch = None;
    }

    /// Adds a frame. The first frame kept is always a key frame, so whatever is held decodes.
    pub fn push(&mut self, unit: AccessUnit) {
        let p = self.period.as_secs_f64();
        if let Some(last) = self.stats.last {
            let gap = unit.t.saturating_sub(last).as_secs_f64();
            if gap > 1.5 * p {
                self.stats.drops += ((gap / p).round() as u64).saturating_sub(1);
            }
        }
        match self.epoch {
            None => self.epoch = Some((unit.t, 0)),
            Some((t0, n)) => {
                let n = n
                    + 1
                    + self.stats.last.map_or(0, |l| {
                        let gap = unit.t.saturating_sub(l).as_secs_f64();
                        ((gap / p).round() as u64).saturating_sub(1)
                    });
                let expected = t0 + self.period * n as u32;
                let off = unit.t.as_secs_f64() - expected.as_secs_f64();
                if off > 0.5 * p {
                    self.stats.late += 1;
                }
                self.stats.drift = off;
                self.epoch = Some((t0, n));
            }
        }
        self.stats.frames += 1;
        self.stats.last = Some(unit.t);
        if self.units.is_empty() && !unit.key {
            return; // nothing can decode it
        }
        self.bytes += unit.data.len() as u64 + UNIT_OVERHEAD;
        self.units.push_back(unit);
        let horizon = self
            .stats
            .last
            .unwrap_or_default()
            .saturating_sub(Duration::from_secs(2));
        let recent = self
            .units
            .iter()
            .rev()
            .take_while(|u| u.t >= horizon)
            .count();
        self.stats.rate = recent as f64 / 2.0;
    }

    /// Drops whole groups of pictures older than `keep` before the newest frame, keeping the
    /// key frame at or before the horizon so the oldest kept second still decodes.
    pub fn trim_age(&mut self, keep: Duration) {
        let Some(newest) = self.units.back().map(|u| u.t) else {
            return;
        };
        let horizon = newest.saturating_sub(keep);
        while self.second_key_at_or_before(horizon) {
            self.drop_gop();
        }
    }

    fn second_key_at_or_before(&self, horizon: Duration) -> bool {
        self.units
            .iter()
            .skip(1)
            .take_while(|u| u.t <= horizon)
            .any(|u| u.key)
    }

    /// Drops the oldest group of pictures; false if only one is left.
    pub fn drop_gop(&mut self) -> bool {
        let Some(next_key) = self.units.iter().skip(1).position(|u| u.key) else {
            return false;
        };
        for u in self.units.drain(..=next_key) {
            self.bytes -= u.data.len() as u64 + UNIT_OVERHEAD;
        }
        true
    }

    /// The units a decoder needs for frames in `[t0, t1]`: from the last key frame at or
    /// before `t0` to the last unit at or before `t1`.
    pub fn range(&self, t0: Duration, t1: Duration) -> Vec<AccessUnit> {
        let start = self
            .units
            .iter()
            .rposition(|u| u.key && u.t <= t0)
            .or_else(|| self.units.iter().position(|u| u.key));
        let Some(start) = start else {
            return Vec::new();
        };
        self.units
            .iter()
            .skip(start)
            .take_while(|u| u.t <= t1)
            .cloned()
            .collect()
    }

    /// The oldest and newest arrival held.
    pub fn held(&self) -> Option<(Duration, Duration)> {
        Some((self.units.front()?.t, self.units.back()?.t))
    }
}

/// Groups frames of several cameras into sets by nearest timestamp: each set is anchored on
/// a time of the first camera that has frames, and takes from every camera the frame nearest
/// to it if it is within half a period; otherwise that camera is missing from the set.
/// `times[c]` are camera `c`'s frame times, ascending. Returns, per set, its time and the
/// index of each camera's frame.
pub fn group_frame_sets(
    times: &[Vec<Duration>],
    period: Duration,
) -> Vec<(Duration, Vec<Option<usize>>)> {
    let Some(anchor) = times.iter().max_by_key(|t| t.len()) else {
        return Vec::new();
    };
    let half = period / 2;
    anchor
        .iter()
        .map(|&t| {
            let picks = times
                .iter()
                .map(|ts| {
                    let i = ts.partition_point(|&x| x < t);
                    [i.checked_sub(1), Some(i)]
                        .into_iter()
                        .flatten()
                        .filter(|&j| j < ts.len())
                        .min_by_key(|&j| ts[j].abs_diff(t))
                        .filter(|&j| ts[j].abs_diff(t) <= half)
                })
                .collect();
            (t, picks)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(ms: u64, key: bool, len: usize) -> AccessUnit {
        AccessUnit {
            t: Duration::from_millis(ms),
            pts: None,
            dts: None,
            key,
            data: vec![0u8; len].into(),
        }
    }

    #[test]
    fn trimming_keeps_a_decodable_window_and_counts_bytes() {
        let mut b = ReplayBuffer::new(25.0);
        for i in 0..250u64 {
            b.push(unit(i * 40, i % 25 == 0, 1000));
        }
        b.trim_age(Duration::from_secs(4));
        let (oldest, newest) = b.held().unwrap();
        assert_eq!(newest, Duration::from_millis(249 * 40));
        assert!(
            newest - oldest >= Duration::from_secs(4) && newest - oldest < Duration::from_secs(5)
        );
        assert!(b.range(oldest, newest)[0].key);
        assert_eq!(
            b.bytes(),
            b.range(oldest, newest).len() as u64 * (1000 + UNIT_OVERHEAD)
        );
        assert_eq!(b.stats().drops, 0);
        assert!((b.stats().rate - 25.0).abs() <= 0.5);
    }

    #[test]
    fn gaps_count_as_drops_and_late_frames() {
        let mut b = ReplayBuffer::new(25.0);
        for i in [0u64, 1, 2, 5, 6] {
            b.push(unit(i * 40, i == 0, 10));
        }
        assert_eq!(b.stats().drops, 2);
        assert_eq!(b.stats().late, 0);
        // A camera running 10 % slow falls behind the nominal schedule: late, and drifting.
        let mut slow = ReplayBuffer::new(25.0);
        for i in 0..20u64 {
            slow.push(unit(i * 44, i == 0, 10));
        }
        assert_eq!(slow.stats().drops, 0);
        assert!(slow.stats().late >= 10, "{:?}", slow.stats());
        assert!(
            (slow.stats().drift - 19.0 * 0.004).abs() < 1e-6,
            "{:?}",
            slow.stats()
        );
    }

    #[test]
    fn a_cut_starts_at_the_key_frame_before_it() {
        let mut b = ReplayBuffer::new(25.0);
        for i in 0..100u64 {
            b.push(unit(i * 40, i % 10 == 0, 10));
        }
        let r = b.range(
            Duration::from_millis(35 * 40),
            Duration::from_millis(52 * 40),
        );
        assert_eq!(r.first().unwrap().t, Duration::from_millis(30 * 40));
        assert_eq!(r.last().unwrap().t, Duration::from_millis(52 * 40));
    }

    #[test]
    fn frame_sets_pair_nearest_frames_within_half_a_period() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let times = vec![ms(&[0, 40, 80, 120]), ms(&[3, 41, 85, 118]), ms(&[10, 90])];
        let sets = group_frame_sets(&times, Duration::from_millis(40));
        assert_eq!(sets.len(), 4);
        assert_eq!(sets[0].1, vec![Some(0), Some(0), Some(0)]);
        assert_eq!(sets[1].1, vec![Some(1), Some(1), None]);
        assert_eq!(sets[2].1, vec![Some(2), Some(2), Some(1)]);
    }
}
