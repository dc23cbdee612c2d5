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
