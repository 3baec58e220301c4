//! Checks a blueprint's templates against its own questions when it loads.
//!
//! The mistake it catches is the one that grows with every new option: a
//! template comparing a choice question with a value the question does not
//! offer (`transport == 'redis'` when the choice is `redis-streams`, or a
//! value that was renamed or removed). Such a branch is dead or, worse, its
//! `else` silently takes a value it was not written for. Comparisons are
//! found textually in every template, path, condition and value the
//! blueprint holds: `key == 'v'`, `'v' == key`, `key != 'v'`,
//! `key in ['a', 'b']`, `'v' in key` (multi).

use std::sync::OnceLock;

use regex::Regex;

use crate::{
    blueprint::{Blueprint, Kind, Text},
    error::{Error, Result},
};

fn patterns() -> &'static [Regex; 4] {
    static RE: OnceLock<[Regex; 4]> = OnceLock::new();
    RE.get_or_init(|| {
        [
            Regex::new(r#"\b([a-z][a-z0-9_]*)\s*(?:==|!=)\s*(?:'([^'\n]*)'|"([^"\n]*)")"#),
            Regex::new(r#"(?:'([^'\n]*)'|"([^"\n]*)")\s*(?:==|!=)\s*([a-z][a-z0-9_]*)\b"#),
            Regex::new(r"\b([a-z][a-z0-9_]*)\s+(?:not\s+)?in\s*[\[(]([^\])\n]*)[\])]"),
            Regex::new(r#"(?:'([^'\n]*)'|"([^"\n]*)")\s+(?:not\s+)?in\s+([a-z][a-z0-9_]*)\b"#),
        ]
        .map(|r| r.expect("a valid regex"))
    })
}

fn quoted() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r#"'([^']*)'|"([^"]*)""#).expect("a valid regex"))
}

/// Every comparison of a choice question with a value it does not offer.
pub fn unknown_choice_values(blueprint: &Blueprint) -> Vec<String> {
    let choice = |key: &str| {
        blueprint
            .question(key)
            .filter(|q| matches!(q.kind, Kind::Choice | Kind::Multi))
    };
    let mut found = Vec::new();
    for (place, text) in blueprint.texts() {
        let text = match text {
            Text::Expr(e) => e,
            // Only what minijinja evaluates: the file's own code may compare
            // a variable of the same name with anything.
            Text::Template(t) => tags_only(&t),
        };
        let [eq, eq_rev, in_list, in_multi] = patterns();
        let mut check = |key: &str, value: &str, line: usize| {
            if let Some(q) = choice(key) {
                if !q.choices.iter().any(|c| c == value) {
                    found.push(format!(
                        "{place}:{line}: `{key}` is compared with `{value}`, which is not one of its choices ({})",
                        q.choices.join(", ")
                    ));
                }
            }
        };
        let line_at = |offset: usize| text[..offset].matches('\n').count() + 1;
        for c in eq.captures_iter(&text) {
            let value = c.get(2).or_else(|| c.get(3)).map_or("", |m| m.as_str());
            check(&c[1], value, line_at(c.get(0).map_or(0, |m| m.start())));
        }
        for c in eq_rev.captures_iter(&text) {
            let value = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
            check(&c[3], value, line_at(c.get(0).map_or(0, |m| m.start())));
        }
        for c in in_list.captures_iter(&text) {
            let line = line_at(c.get(0).map_or(0, |m| m.start()));
            for v in quoted().captures_iter(&c[2]) {
                let value = v.get(1).or_else(|| v.get(2)).map_or("", |m| m.as_str());
                check(&c[1], value, line);
            }
        }
        for c in in_multi.captures_iter(&text) {
            let key = &c[3];
            if choice(key).is_some_and(|q| q.kind == Kind::Multi) {
                let value = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
                check(key, value, line_at(c.get(0).map_or(0, |m| m.start())));
            }
        }
    }
    found
}

/// The template with everything outside `{{ }}` and `{% %}` blanked, lines kept.
fn tags_only(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    loop {
        let open = ["{{", "{%"].iter().filter_map(|o| rest.find(o).map(|i| (i, *o))).min();
        let Some((start, open)) = open else {
            out.extend(rest.chars().filter(|c| *c == '\n'));
            return out;
        };
        out.extend(rest[..start].chars().filter(|c| *c == '\n'));
        let close = if open == "{{" { "}}" } else { "%}" };
        let body = &rest[start..];
        let end = body.find(close).map_or(body.len(), |i| i + 2);
        out.push_str(&body[..end]);
        out.push(' ');
        rest = &body[end..];
    }
}

/// The load-time check: a blueprint error naming every bad comparison.
pub fn check(blueprint: &Blueprint) -> Result<()> {
    // A render reads only the templates its answers select: a broken one
    // elsewhere is found here, when the blueprint loads, not by the one
    // user whose answers select it.
    if let Some(broken) = non_utf8_templates(blueprint).into_iter().next() {
        return Err(Error::blueprint(
            &blueprint.name,
            format!("{broken}: a .j2 template must be UTF-8"),
        ));
    }
    let found = unknown_choice_values(blueprint);
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::blueprint(
        &blueprint.name,
        format!(
            "{}\n  hint: compare with one of the question's choices, or add the value to `choices`",
            found.join("\n")
        ),
    ))
}

/// Every `.j2` file of the blueprint that is not UTF-8, as `component/path`.
pub fn non_utf8_templates(blueprint: &Blueprint) -> Vec<String> {
    blueprint
        .components
        .iter()
        .flat_map(|c| {
            c.files
                .iter()
                .filter(|(path, f)| path.ends_with(".j2") && std::str::from_utf8(&f.bytes).is_err())
                .map(move |(path, _)| format!("{}/{path}", c.label))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::Library;

    #[test]
    fn the_embedded_blueprints_compare_choices_only_with_their_values() {
        let library = Library::new(&[]).unwrap();
        for blueprint in library.load_all().unwrap() {
            let found = unknown_choice_values(&blueprint);
            assert!(found.is_empty(), "{}:\n{}", blueprint.name, found.join("\n"));
        }
    }

    #[test]
    fn the_embedded_templates_are_utf8_and_a_broken_one_is_found() {
        let library = Library::new(&[]).unwrap();
        for blueprint in library.load_all().unwrap() {
            assert_eq!(
                non_utf8_templates(&blueprint),
                Vec::<String>::new(),
                "{}",
                blueprint.name
            );
        }
        let mut b = library.load("ml-gateway").unwrap();
        let last = b.components.len() - 1;
        let c = &mut b.components[last];
        c.files.insert(
            "broken.txt.j2".into(),
            crate::blueprint::SourceFile {
                bytes: std::borrow::Cow::Borrowed(b"caf\xe9\n"),
                executable: false,
            },
        );
        let label = c.label.clone();
        assert_eq!(non_utf8_templates(&b), [format!("{label}/broken.txt.j2")]);
        let err = check(&b).unwrap_err().to_string();
        assert!(err.contains("broken.txt.j2: a .j2 template must be UTF-8"), "{err}");
    }

    #[test]
    fn a_value_not_among_the_choices_is_found_in_expressions_and_tags_only() {
        let library = Library::new(&[]).unwrap();
        let mut b = library.load("ml-gateway").unwrap();
        let c = &mut b.components[0];
        let file = crate::blueprint::SourceFile {
            bytes: std::borrow::Cow::Borrowed(
                b"if transport == \"redis\" { plain code is not checked }\n{% if transport == 'redis' %}x{% endif %}\n{{ 'a' if gateway in ['go', 'rust'] }}\n",
            ),
            executable: false,
        };
        c.files.insert("x.txt.j2".into(), file);
        let found = unknown_choice_values(&b);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("x.txt.j2:2: `transport` is compared with `redis`"),
            "{}",
            found[0]
        );
        assert!(
            found[1].contains("x.txt.j2:3: `gateway` is compared with `rust`"),
            "{}",
            found[1]
        );
    }
}
