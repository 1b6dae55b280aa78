//! What a transaction's payload carries, as the executor reads it: a
//! deploy's framing (source length, SQL source, constructor arguments), a
//! contract call's JSON (`{"Name", "Args"}`) and its arguments converted
//! to SQL values by parameter type, and the calls of the system contracts
//! (`aergo.system`, `aergo.branch`, `aergo.fs`), each of which must
//! re-parse from the payload it encodes to.
#![no_main]

use aergo_exec::contract::json_args_to_values;
use aergo_sql::{FunctionParam, FunctionSignature, SqlType};
use aergo_types::payload::{
    encode_call_payload, encode_deploy_payload, parse_args, parse_call_payload, parse_deploy_payload, BranchCall,
    FileCall, GovCall,
};
use libfuzzer_sys::fuzz_target;

const TYPES: [SqlType; 10] = [
    SqlType::Bool,
    SqlType::SmallInt,
    SqlType::Int,
    SqlType::BigInt,
    SqlType::Numeric(None),
    SqlType::Numeric(Some((10, 2))),
    SqlType::Text,
    SqlType::Varchar(8),
    SqlType::Bytea,
    SqlType::Timestamp,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = parse_deploy_payload(data) {
        let args = d.args.map(|a| std::str::from_utf8(a));
        if let Some(Ok(args)) = args {
            assert_eq!(encode_deploy_payload(d.source, Some(args)), data);
        }
        if let Some(a) = d.args {
            let _ = parse_args(a);
        }
    }
    if let Ok(call) = parse_call_payload(data) {
        // The first bytes choose the parameter types the arguments must fit.
        let params = (0..call.args.len().max(3))
            .map(|i| FunctionParam {
                name: format!("p{i}"),
                ty: TYPES[usize::from(data.get(i).copied().unwrap_or(0)) % TYPES.len()],
                has_default: i >= 2,
            })
            .collect();
        let sig = FunctionSignature {
            schema: "c".into(),
            name: call.name.clone(),
            params,
            returns: None,
            language: "plpgsql",
        };
        if let Ok(values) = json_args_to_values(&sig, &call.args) {
            assert_eq!(values.len(), call.args.len());
        }
        let args: Vec<serde_json::Value> = call.args.iter().filter_map(|a| serde_json::from_str(a.get()).ok()).collect();
        if args.len() == call.args.len() {
            let encoded = encode_call_payload(&call.name, &args);
            let again = parse_call_payload(&encoded).expect("a call payload re-parses");
            assert_eq!(again.name, call.name);
            assert_eq!(again.args.len(), call.args.len());
        }
    }
    let _ = parse_args(data);
    if let Ok(g) = GovCall::parse(data) {
        assert_eq!(GovCall::parse(&g.payload()).as_ref(), Ok(&g));
        let _ = g.args();
    }
    let _ = aergo_exec::gov::parse_call(data);
    if let Ok(b) = BranchCall::parse(data) {
        assert_eq!(BranchCall::parse(&b.payload()).as_ref(), Ok(&b));
    }
    if let Ok(f) = FileCall::parse(data) {
        assert_eq!(FileCall::parse(&f.payload()).as_ref(), Ok(&f));
    }
});
