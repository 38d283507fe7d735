//! Kubernetes quantities (`500m`, `1.5Gi`, `2e3`) and label selectors (`a in (x,y),!b`): parsed
//! or refused, never a panic; what parses renders back to something that parses the same.
#![no_main]

use std::collections::BTreeMap;

use clustermanager_core::k8s::configmap::LabelSelector;
use clustermanager_core::quantity::{Cpu, Memory};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cpu) = Cpu::parse(text) {
        let _ = (cpu.millis(), cpu.to_mhz(2400));
        if let Ok(again) = Cpu::parse(&cpu.to_quantity()) {
            assert_eq!(again.millis(), cpu.millis(), "{text:?} -> {}", cpu.to_quantity());
        }
    }
    if let Ok(mem) = Memory::parse(text) {
        let _ = mem.to_nomad_mb();
        if let Ok(again) = Memory::parse(&mem.to_quantity()) {
            assert_eq!(again.bytes(), mem.bytes(), "{text:?} -> {}", mem.to_quantity());
        }
    }
    if let Ok(selector) = LabelSelector::parse(text) {
        let labels: BTreeMap<String, String> = [("app".into(), "web".into()), ("tier".into(), "".into())].into();
        let verdict = selector.matches(&labels);
        if let Ok(rendered) = selector.build() {
            let again = LabelSelector::parse(&rendered).expect("a rendered selector parses");
            assert_eq!(again.matches(&labels), verdict, "{text:?} -> {rendered:?}");
        }
    }
});
