//! The testnet generator: configs a node can read back, whatever the folder.

/// A relative `--dir` (README's default) must give configs whose paths
/// still resolve when a node reads them from its own folder.
#[test]
fn a_relative_folder_gives_configs_nodes_can_read() {
    let relative =
        std::path::PathBuf::from(format!("target/testnet-relative-{}", std::process::id()));
    let mut spec = clearhouse_testnet::Spec::new(relative.clone());
    spec.seed = Some(9);
    let testnet = clearhouse_testnet::generate(&spec).unwrap();
    for node in &testnet.nodes {
        let config = clearhouse_node::config::NodeConfig::read(&node.config_path).unwrap();
        assert!(
            config.genesis_file.exists(),
            "{}",
            config.genesis_file.display()
        );
        assert!(config.network_key_file.exists());
        assert!(config.key_file.as_ref().unwrap().exists());
        clearhouse_node::keyfile::read(&config.network_key_file).unwrap();
    }
    std::fs::remove_dir_all(&relative).unwrap();
}
