//! The example processes of `lua-examples/`, embedded so `.load-blueprint <name>` works from
//! any directory. Owns: the list. Must never: differ from the files (they are `include_str!`ed).

const BLUEPRINTS: [(&str, &str); 5] = [
    (
        "chatroom",
        include_str!("../../lua-examples/chatroom/chatroom.lua"),
    ),
    ("cron", include_str!("../../lua-examples/cron/cron.lua")),
    (
        "ping-pong",
        include_str!("../../lua-examples/ping-pong/ping-pong.lua"),
    ),
    (
        "receive",
        include_str!("../../lua-examples/receive/receive.lua"),
    ),
    ("token", include_str!("../../lua-examples/token/token.lua")),
];

pub fn names() -> Vec<&'static str> {
    BLUEPRINTS.iter().map(|(name, _)| *name).collect()
}

pub fn get(name: &str) -> Option<&'static str> {
    BLUEPRINTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, source)| *source)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_is_a_blueprint() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lua-examples");
        let mut examples: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        examples.sort();
        assert_eq!(examples, super::names());
    }
}
