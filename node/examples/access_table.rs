//! Prints the API's access table (the one README.md holds, checked by a
//! test): `cargo run -p clearhouse-node --example access_table`.
fn main() {
    print!("{}", clearhouse_node::api::access_table());
}
