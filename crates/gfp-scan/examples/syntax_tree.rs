//! Prints the tree-sitter syntax tree of a C file as the scanner sees it,
//! with the parser's recovered errors and missing tokens marked: for
//! working out how a kernel idiom parses.
//!
//! `cargo run -p gfp-scan --example syntax_tree -- FILE.c`

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: syntax_tree FILE.c");
        std::process::exit(2);
    };
    let src = match std::fs::read(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_c::LANGUAGE.into())
        .expect("the C grammar loads");
    let Some(tree) = parser.parse(&src, None) else {
        eprintln!("{path}: the parser gave up");
        std::process::exit(1);
    };
    let mut stack = vec![(tree.root_node(), 0usize)];
    while let Some((n, depth)) = stack.pop() {
        let leaf = if n.child_count() == 0 {
            format!(" {:?}", String::from_utf8_lossy(&src[n.byte_range()]))
        } else {
            String::new()
        };
        let missing = if n.is_missing() { "MISSING " } else { "" };
        println!(
            "{}{missing}{}{leaf} @{}",
            "  ".repeat(depth),
            n.kind(),
            n.start_position().row + 1
        );
        let mut c = n.walk();
        let kids: Vec<_> = n.children(&mut c).collect();
        for k in kids.into_iter().rev() {
            stack.push((k, depth + 1));
        }
    }
}
