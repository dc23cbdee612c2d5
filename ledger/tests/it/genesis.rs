//! Genesis validation: each mistake named precisely.

use clearhouse_ledger::genesis::{Genesis, GenesisError, GenesisFile};
use clearhouse_ledger::validators::ValidatorSetError;

use crate::fixture::Fixture;

fn file() -> GenesisFile {
    Fixture::new(2, 2).file
}

fn refused(file: GenesisFile) -> GenesisError {
    file.validate().expect_err("must be refused")
}

#[test]
fn toml_round_trip_gives_the_same_chain_id() {
    let f = Fixture::new(3, 4);
    let text = f.file.to_toml().unwrap();
    let again = Genesis::from_toml(&text).unwrap();
    assert_eq!(again.chain_id().unwrap(), f.chain_id());
    // A different chain name is a different chain.
    let renamed = text.replace("clearhouse-test", "clearhouse-other");
    assert_ne!(
        Genesis::from_toml(&renamed).unwrap().chain_id().unwrap(),
        f.chain_id()
    );
}

#[test]
fn duplicates_are_refused() {
    let mut f = file();
    f.members[1].id = f.members[0].id.clone();
    assert!(matches!(
        refused(f),
        GenesisError::Duplicate {
            what: "member id",
            ..
        }
    ));
    let mut f = file();
    f.members[1].validator_key = f.members[0].validator_key.clone();
    assert!(matches!(
        refused(f),
        GenesisError::Duplicate {
            what: "validator key",
            ..
        }
    ));
    let mut f = file();
    f.assets.push(f.assets[0].clone());
    assert!(matches!(
        refused(f),
        GenesisError::Duplicate { what: "asset", .. }
    ));
    let mut f = file();
    f.accounts.push(f.accounts[0].clone());
    assert!(matches!(
        refused(f),
        GenesisError::Duplicate {
            what: "account",
            ..
        }
    ));
}

#[test]
fn api_keys_name_one_caller_each() {
    // The fixture's genesis lists an auditor and a regulator.
    let g = file().validate().unwrap();
    assert_eq!(g.overseers.len(), 2);
    assert!(g.members.iter().all(|m| m.api_key.is_some()));
    // An overseer may not take a member's id.
    let mut f = file();
    f.auditors[0].id = f.members[0].id.clone();
    assert!(matches!(
        refused(f),
        GenesisError::Duplicate {
            what: "member or overseer id",
            ..
        }
    ));
    // Two callers may not share a request key, nor a validator's.
    let mut f = file();
    f.regulators[0].key = f.auditors[0].key.clone();
    assert!(matches!(
        refused(f),
        GenesisError::Duplicate { what: "key", .. }
    ));
    let mut f = file();
    f.members[1].api_key = Some(f.members[0].validator_key.clone());
    assert!(matches!(refused(f), GenesisError::Duplicate { .. }));
    // A request key is never an account's key as well.
    let mut f = file();
    f.members[0].api_key = Some(f.accounts[0].key.clone());
    assert!(matches!(refused(f), GenesisError::KeyReused { .. }));
    let mut f = file();
    f.auditors[0].key = f.members[0].treasury.clone();
    assert!(matches!(refused(f), GenesisError::KeyReused { .. }));
    // Absent tables and keys are fine: no overseers, no bank API access.
    let mut f = file();
    f.auditors.clear();
    f.regulators.clear();
    f.members[0].api_key = None;
    let g = f.validate().unwrap();
    assert!(g.overseers.is_empty());
    assert_eq!(g.members[0].api_key, None);
}

#[test]
fn unknown_references_are_refused() {
    let mut f = file();
    f.assets[0].issuer = "bank-9".into();
    assert_eq!(
        refused(f),
        GenesisError::UnknownIssuer {
            asset: "CNY".into(),
            issuer: "bank-9".into()
        }
    );
    let mut f = file();
    f.accounts[0].bank = "bank-9".into();
    assert!(matches!(refused(f), GenesisError::UnknownBank { .. }));
    let mut f = file();
    f.accounts[0].balances.insert("XAU".into(), "1".into());
    assert!(matches!(refused(f), GenesisError::UnknownAsset { .. }));
}

#[test]
fn bad_values_are_refused() {
    let mut f = file();
    f.members[0].voting_power = 0;
    let error = refused(f);
    assert!(
        matches!(&error, GenesisError::ValidatorSet(ValidatorSetError::ZeroPower(m)) if m.as_str() == "bank-0")
    );
    assert_eq!(
        error.to_string(),
        "validator set: validator of member bank-0 has zero voting power"
    );
    let mut f = file();
    f.members[0].voting_power = u64::MAX;
    assert!(matches!(
        refused(f),
        GenesisError::ValidatorSet(ValidatorSetError::PowerOverflow)
    ));
    let mut f = file();
    f.members[0].name = "x".repeat(200);
    assert_eq!(refused(f), GenesisError::NameTooLong("bank-0".into()));
    let mut f = file();
    f.members.clear();
    assert_eq!(refused(f), GenesisError::NoMembers);
    let mut f = file();
    f.members[0].validator_key = "zz".into();
    assert!(matches!(refused(f), GenesisError::Id { .. }));
    let mut f = file();
    let mut identity = "00".repeat(32);
    identity.replace_range(0..2, "01");
    f.members[0].treasury = identity;
    assert!(matches!(refused(f), GenesisError::Key { .. }));
    let mut f = file();
    f.assets[0].decimals = 30;
    assert!(matches!(refused(f), GenesisError::Decimals { .. }));
    let mut f = file();
    f.fees[0].basis_points = 10_001;
    assert!(matches!(refused(f), GenesisError::BasisPoints { .. }));
    let mut f = file();
    f.accounts[0].balances.insert("CNY".into(), "1.005".into());
    assert!(matches!(refused(f), GenesisError::Amount { .. }));
    let mut f = file();
    f.accounts[0].bank = "bank-1".into();
    f.accounts[0].key = f.members[0].treasury.clone();
    assert!(matches!(refused(f), GenesisError::TreasuryElsewhere { .. }));
    assert!(matches!(
        Genesis::from_toml("chain_name = 3"),
        Err(GenesisError::Toml(_))
    ));
    // An unknown top-level field (before the first table, so it belongs to
    // the file itself, not to the last [[fees]] table).
    let error = Genesis::from_toml(&format!("unknown_field = 1\n{}", file().to_toml().unwrap()));
    assert!(
        matches!(&error, Err(GenesisError::Toml(m)) if m.contains("unknown_field")),
        "{error:?}"
    );
}

#[test]
fn opening_supply_is_the_sum_of_opening_balances() {
    let f = Fixture::new(2, 5);
    let asset = &f.genesis.assets[&f.asset(0)];
    // Five customers at 1,000.00 and two treasuries at 100,000.00.
    assert_eq!(asset.supply.0, 5 * 100_000 + 2 * 10_000_000);
}
