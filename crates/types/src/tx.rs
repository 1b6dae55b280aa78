//! Transactions: the Go node's `TxBody`/`Tx` messages, their hashes and
//! their stateless validation.
//!
//! The wire structs mirror `blockchain.proto` field for field, with the raw
//! byte fields the Go node hashes. Typed views (`tx_type()`, `amount()`,
//! `sender()`, ...) check and convert on access.
//!
//! Hashes (Go `Tx.CalculateTxHash`, `key.CalculateHashWithoutSign`):
//! SHA-256 over, in order, nonce (u64 LE), account, recipient, amount,
//! payload, gas limit (u64 LE), gas price, type (i32 LE), chain id hash and
//! (for the tx hash only) sign. Byte fields are written raw without length
//! prefixes, exactly as the Go node does; the signing hash is the same
//! without `sign`.

use crate::address::Address;
use crate::amount::Amount;
use crate::error::{Result, TypesError};
use crate::hash::{show_bytes, Hash};
use prost::Message;
use sha2::{Digest, Sha256};

/// Largest encoded tx accepted (the Go node's `TxMaxSize`, 200 KiB).
pub const TX_MAX_SIZE_BYTES: usize = 200 * 1024;

/// Most transactions in one batch ([`TxList::decode_batch`]): what nodes
/// gossip, many transactions to a message, so that the network's message
/// rate does not bound its transaction rate.
pub const TX_BATCH_MAX_TXS: usize = 1_000;

/// Largest encoded batch: room for the largest transaction and more.
pub const TX_BATCH_MAX_BYTES: usize = 1024 * 1024;

/// Transaction types with the Go node's numeric values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TxType {
    /// Legacy: transfer, call or deploy depending on recipient and payload.
    Normal = 0,
    /// A call to a system contract (`aergo.system`, `aergo.name`, ...).
    Governance = 1,
    /// Replace a contract's code (private chains only).
    Redeploy = 2,
    /// A contract call whose fee the contract pays.
    FeeDelegation = 3,
    Transfer = 4,
    Call = 5,
    Deploy = 6,
}

impl TxType {
    pub fn from_wire(v: i32) -> Result<TxType> {
        TxType::try_from(v).map_err(|_| TypesError::UnknownTxType { found: v })
    }

    /// Every type, in numeric order.
    pub const ALL: [TxType; 7] = [
        TxType::Normal,
        TxType::Governance,
        TxType::Redeploy,
        TxType::FeeDelegation,
        TxType::Transfer,
        TxType::Call,
        TxType::Deploy,
    ];

    /// From the proto name (`"TRANSFER"`, `"call"`, ...; any case).
    pub fn from_name(name: &str) -> Option<TxType> {
        TxType::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The proto name: `"NORMAL"`, `"GOVERNANCE"`, ...
    pub fn name(self) -> &'static str {
        match self {
            TxType::Normal => "NORMAL",
            TxType::Governance => "GOVERNANCE",
            TxType::Redeploy => "REDEPLOY",
            TxType::FeeDelegation => "FEEDELEGATION",
            TxType::Transfer => "TRANSFER",
            TxType::Call => "CALL",
            TxType::Deploy => "DEPLOY",
        }
    }
}

/// The body of a transaction (proto `types.TxBody`).
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct TxBody {
    #[prost(uint64, tag = "1")]
    pub nonce: u64,
    /// Sender address bytes (33-byte key, or a name).
    #[prost(bytes = "vec", tag = "2")]
    pub account: Vec<u8>,
    /// Recipient address bytes; empty for a deploy.
    #[prost(bytes = "vec", tag = "3")]
    pub recipient: Vec<u8>,
    /// Amount in aer, minimal big-endian.
    #[prost(bytes = "vec", tag = "4")]
    pub amount: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub payload: Vec<u8>,
    #[prost(uint64, tag = "6")]
    pub gas_limit: u64,
    /// Gas price in aer, minimal big-endian.
    #[prost(bytes = "vec", tag = "7")]
    pub gas_price: Vec<u8>,
    #[prost(enumeration = "TxType", tag = "8")]
    pub r#type: i32,
    /// SHA-256 of the chain id bytes ([`crate::ChainId::hash`]).
    #[prost(bytes = "vec", tag = "9")]
    pub chain_id_hash: Vec<u8>,
    /// DER ECDSA signature over [`TxBody::signing_hash`].
    #[prost(bytes = "vec", tag = "10")]
    pub sign: Vec<u8>,
}

/// A transaction (proto `types.Tx`): its hash and its body.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Tx {
    #[prost(bytes = "vec", tag = "1")]
    pub hash: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    pub body: Option<TxBody>,
}

/// A list of transactions (proto `types.TxList`).
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct TxList {
    #[prost(message, repeated, tag = "1")]
    pub txs: Vec<Tx>,
}

impl TxList {
    /// Decodes a batch of transactions from a stranger: at most
    /// [`TX_BATCH_MAX_BYTES`], between 1 and [`TX_BATCH_MAX_TXS`]
    /// transactions, each at most [`TX_MAX_SIZE_BYTES`] encoded.
    pub fn decode_batch(bytes: &[u8]) -> Result<TxList> {
        if bytes.len() > TX_BATCH_MAX_BYTES {
            return Err(TypesError::TooLarge {
                what: "encoded tx batch",
                found: bytes.len(),
                limit: TX_BATCH_MAX_BYTES,
            });
        }
        let list = TxList::decode(bytes).map_err(|e| TypesError::Decode { what: "tx batch", reason: e.to_string() })?;
        if list.txs.is_empty() {
            return Err(TypesError::Decode { what: "tx batch", reason: "no transaction in it".into() });
        }
        if list.txs.len() > TX_BATCH_MAX_TXS {
            return Err(TypesError::TooLarge {
                what: "transactions in a batch",
                found: list.txs.len(),
                limit: TX_BATCH_MAX_TXS,
            });
        }
        if let Some(big) = list.txs.iter().map(Message::encoded_len).find(|n| *n > TX_MAX_SIZE_BYTES) {
            return Err(TypesError::TooLarge { what: "encoded tx", found: big, limit: TX_MAX_SIZE_BYTES });
        }
        Ok(list)
    }
}

/// The encoding of a [`TxList`] holding the transactions whose encodings
/// are `encoded_txs`, without decoding them (field 1, length-delimited,
/// once per transaction).
pub fn encode_tx_batch(encoded_txs: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = encoded_txs.iter().map(|t| t.len() + 11).sum();
    let mut out = Vec::with_capacity(total);
    for tx in encoded_txs {
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(tx.len() as u64, &mut out);
        out.extend_from_slice(tx);
    }
    out
}

impl TxBody {
    /// An unsigned body. `recipient` is `None` for a deploy.
    pub fn new(
        tx_type: TxType,
        nonce: u64,
        sender: &Address,
        recipient: Option<&Address>,
        amount: Amount,
        chain_id_hash: &Hash,
    ) -> TxBody {
        TxBody {
            nonce,
            account: sender.to_vec(),
            recipient: recipient.map(Address::to_vec).unwrap_or_default(),
            amount: amount.to_be_bytes_minimal(),
            payload: Vec::new(),
            gas_limit: 0,
            gas_price: Vec::new(),
            r#type: tx_type as i32,
            chain_id_hash: chain_id_hash.to_vec(),
            sign: Vec::new(),
        }
    }

    /// An unsigned transfer of `amount` from `sender` to `recipient`.
    pub fn transfer(nonce: u64, sender: &Address, recipient: &Address, amount: Amount, chain_id_hash: &Hash) -> TxBody {
        TxBody::new(TxType::Transfer, nonce, sender, Some(recipient), amount, chain_id_hash)
    }

    pub fn with_payload(mut self, payload: Vec<u8>) -> TxBody {
        self.payload = payload;
        self
    }

    pub fn with_gas(mut self, gas_limit: u64, gas_price: Amount) -> TxBody {
        self.gas_limit = gas_limit;
        self.gas_price = gas_price.to_be_bytes_minimal();
        self
    }

    pub fn tx_type(&self) -> Result<TxType> {
        TxType::from_wire(self.r#type)
    }

    pub fn amount(&self) -> Result<Amount> {
        Amount::from_be_bytes(&self.amount)
    }

    pub fn gas_price(&self) -> Result<Amount> {
        Amount::from_be_bytes(&self.gas_price)
    }

    pub fn sender(&self) -> Result<Address> {
        if self.account.is_empty() {
            return Err(TypesError::MissingField { what: "tx body", field: "account" });
        }
        Address::from_bytes(&self.account)
    }

    /// The recipient, `None` when the field is empty (a deploy).
    pub fn recipient(&self) -> Result<Option<Address>> {
        if self.recipient.is_empty() {
            Ok(None)
        } else {
            Address::from_bytes(&self.recipient).map(Some)
        }
    }

    fn digest(&self, with_sign: bool) -> Hash {
        let mut h = Sha256::new();
        h.update(self.nonce.to_le_bytes());
        h.update(&self.account);
        h.update(&self.recipient);
        h.update(&self.amount);
        h.update(&self.payload);
        h.update(self.gas_limit.to_le_bytes());
        h.update(&self.gas_price);
        h.update(self.r#type.to_le_bytes());
        h.update(&self.chain_id_hash);
        if with_sign {
            h.update(&self.sign);
        }
        Hash(h.finalize().into())
    }

    /// The hash that is signed: every field but `sign`.
    pub fn signing_hash(&self) -> Hash {
        self.digest(false)
    }

    /// The transaction hash: every field including `sign`.
    pub fn tx_hash(&self) -> Hash {
        self.digest(true)
    }
}

impl Tx {
    /// A tx whose hash field is computed from `body`.
    pub fn new(body: TxBody) -> Tx {
        Tx { hash: body.tx_hash().to_vec(), body: Some(body) }
    }

    pub fn body(&self) -> Result<&TxBody> {
        self.body.as_ref().ok_or(TypesError::MissingField { what: "tx", field: "body" })
    }

    /// The hash the tx claims (not recomputed; see [`Tx::validate`]).
    pub fn hash(&self) -> Result<Hash> {
        Hash::from_slice("tx hash", &self.hash).map_err(Into::into)
    }

    /// The hash computed from the body.
    pub fn computed_hash(&self) -> Result<Hash> {
        Ok(self.body()?.tx_hash())
    }

    /// Proto bytes, as the Go node writes them.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes untrusted proto bytes; refuses more than
    /// [`TX_MAX_SIZE_BYTES`] before looking at them.
    pub fn decode_bounded(bytes: &[u8]) -> Result<Tx> {
        if bytes.len() > TX_MAX_SIZE_BYTES {
            return Err(TypesError::TooLarge { what: "encoded tx", found: bytes.len(), limit: TX_MAX_SIZE_BYTES });
        }
        Tx::decode(bytes).map_err(|e| TypesError::Decode { what: "tx", reason: e.to_string() })
    }

    /// Stateless checks of the Go node's `Transaction.Validate`, signature
    /// excepted (that is `aergo-crypto`'s): chain id hash, size, hash, amount
    /// and gas price bounds, address forms and the per-type rules. `public`
    /// says whether the chain is public (redeploy is refused there).
    pub fn validate(&self, chain_id_hash: &Hash, public: bool) -> Result<()> {
        let body = self.body()?;
        if body.chain_id_hash.as_slice() != chain_id_hash.as_bytes() {
            return Err(TypesError::ChainIdMismatch {
                expected: chain_id_hash.to_string(),
                found: show_bytes(&body.chain_id_hash),
            });
        }
        let size = self.encoded_len();
        if size > TX_MAX_SIZE_BYTES {
            return Err(TypesError::TooLarge { what: "tx", found: size, limit: TX_MAX_SIZE_BYTES });
        }
        let sender = body.sender()?;
        if sender.is_contract() {
            return Err(TypesError::TxInvalid {
                field: "account",
                reason: "a contract address cannot send a tx".to_string(),
            });
        }
        let computed = body.tx_hash();
        if self.hash.as_slice() != computed.as_bytes() {
            return Err(TypesError::TxHashMismatch { claimed: show_bytes(&self.hash), computed: computed.to_string() });
        }
        let amount = body.amount()?;
        if amount > Amount::TOTAL_SUPPLY {
            return Err(TypesError::ExceedsSupply { field: "amount", value: amount.to_string() });
        }
        let gas_price = body.gas_price()?;
        if gas_price > Amount::TOTAL_SUPPLY {
            return Err(TypesError::ExceedsSupply { field: "gas price", value: gas_price.to_string() });
        }
        let recipient = body.recipient()?;
        let tx_type = body.tx_type()?;
        let invalid = |field: &'static str, reason: &str| {
            Err(TypesError::TxInvalid { field, reason: format!("{}: {reason}", tx_type.name()) })
        };
        let no_payload = body.payload.is_empty();
        match tx_type {
            TxType::Normal | TxType::Redeploy => {
                if tx_type == TxType::Redeploy {
                    if public {
                        return invalid("type", "not allowed on a public chain");
                    }
                    if recipient.is_none() {
                        return invalid("recipient", "the contract to redeploy is missing");
                    }
                }
                if recipient.is_none() && no_payload {
                    return invalid("recipient", "no recipient and no code to deploy");
                }
            }
            TxType::Governance => {
                if no_payload {
                    return invalid("payload", "a governance tx needs a payload");
                }
                if !recipient.as_ref().is_some_and(Address::is_system) {
                    return invalid(
                        "recipient",
                        "must be a system contract (aergo.system, aergo.name, aergo.enterprise, aergo.vault, aergo.branch, aergo.fs)",
                    );
                }
            }
            TxType::FeeDelegation => {
                if recipient.is_none() {
                    return invalid("recipient", "missing");
                }
                if no_payload {
                    return invalid("payload", "a fee-delegated call needs a payload");
                }
            }
            TxType::Transfer | TxType::Call => {
                if recipient.is_none() {
                    return invalid("recipient", "missing");
                }
            }
            TxType::Deploy => {
                if recipient.is_some() {
                    return invalid("recipient", "a deploy has no recipient");
                }
                if no_payload {
                    return invalid("payload", "a deploy needs code");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain_id::ChainId;
    use proptest::prelude::*;

    fn addr(b: u8) -> Address {
        let mut k = [b; 33];
        k[0] = 0x02;
        Address::account(k).unwrap()
    }

    fn chain() -> Hash {
        ChainId::dev().hash()
    }

    fn sample() -> TxBody {
        TxBody::transfer(1, &addr(1), &addr(2), Amount::ONE_AERGO, &chain())
            .with_payload(b"hi".to_vec())
            .with_gas(100_000, Amount::from_aer(50_000_000_000))
    }

    fn sample_tx(nonce: u64, payload_bytes: usize) -> Tx {
        let mut body = sample().with_payload(vec![7; payload_bytes]);
        body.nonce = nonce;
        Tx { hash: vec![nonce as u8; 32], body: Some(body) }
    }

    #[test]
    fn a_batch_encoded_from_tx_bytes_decodes_as_a_tx_list() {
        let txs: Vec<Tx> = (1..=5).map(|n| sample_tx(n, 10 * n as usize)).collect();
        let bytes = encode_tx_batch(&txs.iter().map(|t| t.encode_to_vec()).collect::<Vec<_>>());
        assert_eq!(bytes, TxList { txs: txs.clone() }.encode_to_vec());
        assert_eq!(TxList::decode_batch(&bytes).unwrap().txs, txs);
    }

    #[test]
    fn batches_are_bounded() {
        let empty = encode_tx_batch(&[]);
        assert!(matches!(TxList::decode_batch(&empty), Err(TypesError::Decode { .. })));
        let one = sample_tx(1, 0).encode_to_vec();
        let many = encode_tx_batch(&vec![one.clone(); TX_BATCH_MAX_TXS + 1]);
        assert!(matches!(
            TxList::decode_batch(&many),
            Err(TypesError::TooLarge { what: "transactions in a batch", .. })
        ));
        let big = sample_tx(1, TX_MAX_SIZE_BYTES).encode_to_vec();
        assert!(matches!(
            TxList::decode_batch(&encode_tx_batch(&[big])),
            Err(TypesError::TooLarge { what: "encoded tx", .. })
        ));
        let huge = vec![0u8; TX_BATCH_MAX_BYTES + 1];
        assert!(matches!(TxList::decode_batch(&huge), Err(TypesError::TooLarge { what: "encoded tx batch", .. })));
        assert!(TxList::decode_batch(&[0x0a, 0x05, 1]).is_err());
    }

    /// The hash is a plain concatenation: check it field by field.
    #[test]
    fn hash_layout_is_the_go_one() {
        let mut b = sample();
        b.sign = vec![0x30, 0x01, 0x02];
        let mut data = Vec::new();
        data.extend_from_slice(&1u64.to_le_bytes());
        data.extend_from_slice(&b.account);
        data.extend_from_slice(&b.recipient);
        data.extend_from_slice(&b.amount);
        data.extend_from_slice(b"hi");
        data.extend_from_slice(&100_000u64.to_le_bytes());
        data.extend_from_slice(&b.gas_price);
        data.extend_from_slice(&4i32.to_le_bytes());
        data.extend_from_slice(chain().as_bytes());
        assert_eq!(b.signing_hash(), Hash::sha256(&data));
        data.extend_from_slice(&b.sign);
        assert_eq!(b.tx_hash(), Hash::sha256(&data));
    }

    #[test]
    fn wire_round_trip_and_field_numbers() {
        let tx = Tx::new(sample());
        let bytes = tx.encode();
        // field 1 (hash, bytes) first, then field 2 (body, message)
        assert_eq!(bytes[0], 0x0a);
        assert_eq!(bytes[1], 32);
        assert_eq!(bytes[34], 0x12);
        let back = Tx::decode_bounded(&bytes).unwrap();
        assert_eq!(back, tx);
        // type is field 8 as a varint: tag byte 0x40 followed by 4
        let body = back.body().unwrap().encode_to_vec();
        assert!(body.windows(2).any(|w| w == [0x40, 0x04]));
    }

    #[test]
    fn validate_accepts_a_good_tx_and_names_each_fault() {
        let tx = Tx::new(sample());
        tx.validate(&chain(), true).unwrap();

        let other_chain = ChainId::dev().with_version(1).hash();
        assert!(matches!(tx.validate(&other_chain, true), Err(TypesError::ChainIdMismatch { .. })));

        let mut bad_hash = tx.clone();
        bad_hash.hash[0] ^= 1;
        assert!(matches!(bad_hash.validate(&chain(), true), Err(TypesError::TxHashMismatch { .. })));

        let mut too_much = sample();
        too_much.amount = Amount::TOTAL_SUPPLY.checked_add(Amount::from_aer(1)).unwrap().to_be_bytes_minimal();
        assert!(Tx::new(too_much).validate(&chain(), true).is_err());

        let mut unknown = sample();
        unknown.r#type = 9;
        assert!(matches!(Tx::new(unknown).validate(&chain(), true), Err(TypesError::UnknownTxType { found: 9 })));

        let deploy_with_recipient = TxBody::new(TxType::Deploy, 1, &addr(1), Some(&addr(2)), Amount::ZERO, &chain())
            .with_payload(b"code".to_vec());
        assert!(Tx::new(deploy_with_recipient).validate(&chain(), true).is_err());
        let deploy =
            TxBody::new(TxType::Deploy, 1, &addr(1), None, Amount::ZERO, &chain()).with_payload(b"code".to_vec());
        Tx::new(deploy).validate(&chain(), true).unwrap();

        let gov_to_user = TxBody::new(TxType::Governance, 1, &addr(1), Some(&addr(2)), Amount::ZERO, &chain())
            .with_payload(b"{}".to_vec());
        assert!(Tx::new(gov_to_user).validate(&chain(), true).is_err());
        let sys = Address::parse("aergo.system").unwrap();
        let gov = TxBody::new(TxType::Governance, 1, &addr(1), Some(&sys), Amount::ZERO, &chain())
            .with_payload(b"{}".to_vec());
        Tx::new(gov).validate(&chain(), true).unwrap();

        let redeploy = TxBody::new(TxType::Redeploy, 1, &addr(1), Some(&addr(2)), Amount::ZERO, &chain())
            .with_payload(b"code".to_vec());
        assert!(Tx::new(redeploy.clone()).validate(&chain(), true).is_err());
        Tx::new(redeploy).validate(&chain(), false).unwrap();

        let mut no_sender = sample();
        no_sender.account.clear();
        assert!(matches!(
            Tx::new(no_sender).validate(&chain(), true),
            Err(TypesError::MissingField { field: "account", .. })
        ));

        let no_body = Tx { hash: vec![0; 32], body: None };
        assert!(no_body.validate(&chain(), true).is_err());

        let big = sample().with_payload(vec![7; TX_MAX_SIZE_BYTES]);
        assert!(matches!(Tx::new(big).validate(&chain(), true), Err(TypesError::TooLarge { .. })));
    }

    #[test]
    fn decode_refuses_oversized_and_garbage_input() {
        assert!(matches!(Tx::decode_bounded(&vec![0; TX_MAX_SIZE_BYTES + 1]), Err(TypesError::TooLarge { .. })));
        assert!(Tx::decode_bounded(&[0xff, 0xff, 0xff]).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(tx) = Tx::decode_bounded(&b) {
                let _ = tx.validate(&chain(), true);
            }
        }

        #[test]
        fn encode_decode_round_trip(nonce in any::<u64>(), amount in any::<u128>(),
                                    payload in proptest::collection::vec(any::<u8>(), 0..100),
                                    gas in any::<u64>(), ty in 0i32..7) {
            let mut body = TxBody::transfer(nonce, &addr(3), &addr(4), Amount::from_aer(amount), &chain())
                .with_payload(payload).with_gas(gas, Amount::from_aer(amount / 3));
            body.r#type = ty;
            let tx = Tx::new(body);
            prop_assert_eq!(Tx::decode_bounded(&tx.encode()).unwrap(), tx);
        }

        /// A batch framed from transactions' bytes decodes to them, in
        /// order; cut anywhere short of its end, it does not decode to
        /// the same list.
        #[test]
        fn batches_round_trip(txs in proptest::collection::vec(
                (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300)), 1..40),
                cut in any::<prop::sample::Index>()) {
            let txs: Vec<Tx> = txs
                .into_iter()
                .map(|(nonce, payload)| Tx::new(TxBody::transfer(nonce, &addr(3), &addr(4), Amount::ONE_AERGO, &chain()).with_payload(payload)))
                .collect();
            let bytes = encode_tx_batch(&txs.iter().map(Tx::encode).collect::<Vec<_>>());
            prop_assert_eq!(&TxList::decode_batch(&bytes).unwrap().txs, &txs);
            let short = &bytes[..cut.index(bytes.len())];
            prop_assert!(TxList::decode_batch(short).map_or(true, |l| l.txs != txs));
        }
    }
}
