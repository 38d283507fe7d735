//! Benchmarks of clustermanager (see `benches/`): decoding recorded server bodies with core's lean
//! types against the raw `serde_json::Value` floor, measured in the same run.
