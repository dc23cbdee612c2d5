//! The documented example configuration stays valid.

#[test]
fn the_example_config_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-config.toml");
    let config = clearhouse_node::config::NodeConfig::read(&path).unwrap();
    assert_eq!(config.name, "bank-0");
    assert_eq!(config.limits, clearhouse_node::config::Limits::default());
    assert_eq!(
        config.timeouts,
        clearhouse_node::config::Timeouts::default()
    );
}

#[test]
fn keep_blocks_below_the_minimum_is_refused() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-config.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |keep: u64| {
        let path = dir.path().join(format!("keep-{keep}.toml"));
        let text = text.replace("# keep_blocks = 100000", &format!("keep_blocks = {keep}"));
        assert!(text.contains(&format!("keep_blocks = {keep}")));
        std::fs::write(&path, text).unwrap();
        clearhouse_node::config::NodeConfig::read(&path)
    };
    let min = clearhouse_ledger::store::KEEP_BLOCKS_MIN;
    assert_eq!(write(min).unwrap().keep_blocks, Some(min));
    let refused = write(min - 1).unwrap_err().to_string();
    assert!(refused.contains("keep_blocks"), "{refused}");
    // Absent: archival.
    assert_eq!(
        clearhouse_node::config::NodeConfig::read(&example)
            .unwrap()
            .keep_blocks,
        None
    );
}
