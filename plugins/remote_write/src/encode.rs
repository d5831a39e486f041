//! Pure encoding: points to remote-write 1.0 `WriteRequest`s (protobuf, through
//! prost's derived messages) split by bytes and series, each compressed with
//! snappy's block format. No I/O. Names and labels are gostats', from
//! `idic-promnames`, exactly what the `prometheus` plugin serves; timestamps are
//! the points' own (seconds) in milliseconds.
//!
//! Within one request every series appears once, its samples in batch order
//! (the host's batches are in time order per cluster), labels sorted by name
//! with `__name__` first, as the protocol requires.

use std::collections::HashMap;

use idic_plugin_api::Point;
use idic_promnames::{for_each_sample, Labels, Scratch};
use prost::Message;

/// The protobuf messages of Prometheus' `prompb/remote.proto` and
/// `prompb/types.proto` that remote-write 1.0 uses (metadata left out).
pub mod proto {
    /// `prometheus.WriteRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        /// The series, each with its samples.
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `prometheus.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Sorted by name; `__name__` is the metric name.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// In time order.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    /// `prometheus.Label`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        /// The label name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// The label value.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `prometheus.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// The value.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Unix milliseconds.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

use proto::{Label, Sample, TimeSeries, WriteRequest};

/// The size of one sample inside its series, at most: the field tag and
/// length (2), the double (9) and the timestamp (up to 11).
const SAMPLE_BYTES: usize = 22;

/// One compressed request body and what it holds.
#[derive(Debug)]
pub struct Body {
    /// Snappy block-compressed protobuf `WriteRequest`.
    pub bytes: Vec<u8>,
    /// Series in the request.
    pub series: usize,
    /// Samples in the request.
    pub samples: usize,
}

/// Turns batches into request bodies; reusable.
pub struct Encoder {
    max_bytes: usize,
    max_series: usize,
    external: Vec<(String, String)>,
    scratch: Scratch,
    key: String,
    index: HashMap<String, usize>,
    current: WriteRequest,
    current_bytes: usize,
    current_samples: usize,
    bodies: Vec<Body>,
}

impl Encoder {
    /// An encoder making requests of at most `max_bytes` (uncompressed, one
    /// larger series alone excepted) and `max_series` series, adding
    /// `external` labels to every series that lacks a label of that name.
    pub fn new(max_bytes: usize, max_series: usize, external: Vec<(String, String)>) -> Encoder {
        Encoder {
            max_bytes,
            max_series: max_series.max(1),
            external,
            scratch: Scratch::default(),
            key: String::new(),
            index: HashMap::new(),
            current: WriteRequest::default(),
            current_bytes: 0,
            current_samples: 0,
            bodies: Vec::new(),
        }
    }

    /// Encodes a batch into bodies (replacing the previous batch's).
    pub fn encode(&mut self, batch: &[Point]) -> &[Body] {
        self.bodies.clear();
        for point in batch {
            let millis = point.time.saturating_mul(1000);
            let mut scratch = std::mem::take(&mut self.scratch);
            for_each_sample(point, None, &mut scratch, |name, labels, value| {
                self.add(name, labels, value, millis);
            });
            self.scratch = scratch;
        }
        self.finish_request();
        &self.bodies
    }

    fn add(&mut self, name: &str, labels: &Labels, value: f64, millis: i64) {
        self.key.clear();
        self.key.push_str(name);
        self.key.push_str(labels.text());
        let sample = Sample {
            value,
            timestamp: millis,
        };
        if let Some(&i) = self.index.get(self.key.as_str()) {
            if self.current_bytes + SAMPLE_BYTES > self.max_bytes {
                self.finish_request();
            } else {
                self.current.timeseries[i].samples.push(sample);
                self.current_bytes += SAMPLE_BYTES;
                self.current_samples += 1;
                return;
            }
        }
        let series = self.series(name, labels);
        let bytes = series.encoded_len() + 4 + SAMPLE_BYTES;
        if !self.current.timeseries.is_empty()
            && (self.current_bytes + bytes > self.max_bytes
                || self.current.timeseries.len() >= self.max_series)
        {
            self.finish_request();
        }
        self.index
            .insert(self.key.clone(), self.current.timeseries.len());
        let mut series = series;
        series.samples.push(sample);
        self.current.timeseries.push(series);
        self.current_bytes += bytes;
        self.current_samples += 1;
    }

    /// A series without samples: `__name__`, the point's labels and the
    /// external labels it lacks, sorted by name.
    fn series(&self, name: &str, labels: &Labels) -> TimeSeries {
        let mut out: Vec<Label> =
            Vec::with_capacity(1 + labels.pairs().len() + self.external.len());
        out.push(Label {
            name: "__name__".into(),
            value: name.into(),
        });
        for (n, v) in labels.pairs() {
            out.push(Label {
                name: n.clone(),
                value: v.clone(),
            });
        }
        for (n, v) in &self.external {
            if !labels.pairs().iter().any(|(p, _)| p == n) {
                out.push(Label {
                    name: n.clone(),
                    value: v.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        TimeSeries {
            labels: out,
            samples: Vec::new(),
        }
    }

    fn finish_request(&mut self) {
        if self.current.timeseries.is_empty() {
            return;
        }
        let request = std::mem::take(&mut self.current);
        let raw = request.encode_to_vec();
        let bytes = snap::raw::Encoder::new()
            .compress_vec(&raw)
            .expect("snappy compresses any input below 4 GiB");
        self.bodies.push(Body {
            bytes,
            series: request.timeseries.len(),
            samples: self.current_samples,
        });
        self.index.clear();
        self.current_bytes = 0;
        self.current_samples = 0;
    }
}

/// Decodes a body back into its request (tests and tools).
pub fn decode(body: &[u8]) -> Option<WriteRequest> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).ok()?;
    WriteRequest::decode(raw.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use idic_plugin_api::{Field, Row, Tag, Value};

    fn point(key: &str, time: i64, value: f64) -> Point {
        Point {
            measurement: key.into(),
            time,
            rows: vec![Row {
                tags: vec![Tag::new("cluster", "c1"), Tag::new("node", "2")].into(),
                fields: vec![Field::new("value", Value::Float(value))].into(),
            }]
            .into(),
        }
    }

    fn labels(s: &TimeSeries) -> Vec<String> {
        s.labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect()
    }

    #[test]
    fn a_series_gets_gostats_names_sorted_labels_and_millisecond_timestamps() {
        let mut e = Encoder::new(1 << 20, 100, vec![("replica".into(), "a".into())]);
        let bodies = e.encode(&[point("node.load.1min", 1_700_000_000, 1.5)]);
        assert_eq!(bodies.len(), 1);
        let req = decode(&bodies[0].bytes).unwrap();
        assert_eq!(req.timeseries.len(), 1);
        assert_eq!(
            labels(&req.timeseries[0]),
            [
                "__name__=isilon_stat_node_load_1min",
                "cluster=c1",
                "node=2",
                "replica=a"
            ]
        );
        assert_eq!(
            req.timeseries[0].samples,
            [Sample {
                value: 1.5,
                timestamp: 1_700_000_000_000
            }]
        );
    }

    #[test]
    fn a_point_label_wins_over_an_external_label_of_that_name() {
        let mut e = Encoder::new(1 << 20, 100, vec![("cluster".into(), "x".into())]);
        let req = decode(&e.encode(&[point("a", 1, 1.0)])[0].bytes).unwrap();
        assert_eq!(
            labels(&req.timeseries[0]),
            ["__name__=isilon_stat_a", "cluster=c1", "node=2"]
        );
    }

    #[test]
    fn samples_of_one_series_share_it_in_time_order() {
        let mut e = Encoder::new(1 << 20, 100, vec![]);
        let batch: Vec<Point> = (0..3).map(|i| point("a", 10 + i, i as f64)).collect();
        let bodies = e.encode(&batch);
        assert_eq!((bodies[0].series, bodies[0].samples), (1, 3));
        let req = decode(&bodies[0].bytes).unwrap();
        let times: Vec<i64> = req.timeseries[0]
            .samples
            .iter()
            .map(|s| s.timestamp)
            .collect();
        assert_eq!(times, [10_000, 11_000, 12_000]);
    }

    #[test]
    fn requests_are_split_by_series_and_by_bytes_without_losing_samples() {
        let batch: Vec<Point> = (0..50)
            .map(|i| point(&format!("k{i}"), 5, i as f64))
            .collect();
        let check = |bytes: usize, series: usize| {
            let mut e = Encoder::new(bytes, series, vec![]);
            let bodies = e.encode(&batch);
            let mut seen = Vec::new();
            for b in bodies {
                let req = decode(&b.bytes).unwrap();
                assert!(req.timeseries.len() <= series);
                assert!(
                    req.encoded_len() <= bytes,
                    "{} > {bytes}",
                    req.encoded_len()
                );
                seen.extend(req.timeseries.iter().map(|s| s.samples[0].value as i64));
            }
            assert_eq!(seen, (0..50).collect::<Vec<_>>());
            bodies.len()
        };
        assert_eq!(check(1 << 20, 7), 8);
        assert!(check(1024, 10_000) >= 3);
    }

    #[test]
    fn an_empty_batch_makes_no_request() {
        assert!(Encoder::new(1024, 1, vec![]).encode(&[]).is_empty());
    }
}
