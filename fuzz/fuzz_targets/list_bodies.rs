//! 2xx bodies the typed parsers read: Kubernetes lists (jobs, pods, nodes, any kind) and Nomad
//! job lists.
#![no_main]

use bytes::Bytes;
use clustermanager_core::k8s::object::parse_list;
use clustermanager_core::k8s::object::Thin;
use clustermanager_core::{k8s, nomad};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let resp = || http::Response::new(Bytes::copy_from_slice(data));
    let _ = k8s::job::parse_list(resp());
    let _ = k8s::execution::parse_list(resp());
    let _ = k8s::node::parse_list(resp());
    let _ = parse_list::<Thin>("fuzz", data);
    let _ = nomad::job::parse_job_list(&nomad::Context::default(), "default", data);
});
