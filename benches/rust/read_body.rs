//! A driver for instruction counts of the body reader (`valgrind --tool=callgrind`): reads the
//! chat completion body in the file named by the first argument with `read_openai`, as many
//! times as the second argument says (default 1), with the tokens kept when a third argument
//! `tokens` is given (as `credo.formats.from_openai` reads), and prints the body's size and rows.
//!
//! ```text
//! cargo build --profile bench -p credo-benches --example read_body
//! valgrind --tool=callgrind target/release/examples/read_body body.json 10 tokens
//! ```
//! Instructions per byte: (Ir of a run of N reads − Ir of a run of 1 read) ÷ ((N − 1) × size).

use std::hint::black_box;

use credo_core::formats::{read_openai, ReadOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: read_body BODY.json [TIMES]");
    let times: usize = args.next().map_or(1, |n| n.parse().expect("TIMES is a count"));
    let opts = ReadOptions {
        tokens: args.next().is_some_and(|a| a == "tokens"),
        ..ReadOptions::default()
    };
    let body = std::fs::read(&path).expect("the body file is readable");
    let mut rows = 0;
    for _ in 0..times {
        let got = read_openai(black_box(&body), &opts).expect("the body reads");
        rows = black_box(got.response().rows);
    }
    println!("{} bytes, {rows} rows, read {times} times", body.len());
}
