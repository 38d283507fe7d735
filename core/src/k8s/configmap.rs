//! Kubernetes ConfigMaps: `get_config_maps` ([`list`]: every ConfigMap of a namespace matching
//! a label selector, page after page), and [`LabelSelector`], a builder that renders and
//! validates label selectors (`app=web,tier in (a,b),!legacy`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;

use serde::Deserialize;

use super::api::{self, ListParams, Resource};
use super::object::ObjectList;
use super::Context;
use crate::error::{Error, Result};
use crate::model::ConfigMap;
use crate::op::{map_output, Checked};
use crate::step::Operation;

/// Page size [`list`] asks for.
pub const PAGE_SIZE: u32 = 500;

#[derive(Debug, Deserialize)]
struct ConfigMapBody {
    metadata: Meta,
    #[serde(default)]
    data: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Every ConfigMap of `namespace` whose labels match `label_selector` (empty: all), read in
/// pages of [`PAGE_SIZE`]. A continue token that expires between pages restarts the list (see
/// [`api::list_all`]). The selector is passed as given; the server reports a malformed one as
/// [`Error::BadRequest`]. Build one with [`LabelSelector`] to catch mistakes before sending.
///
/// ```
/// use clustermanager_core::{k8s, Operation, Step};
/// use clustermanager_core::k8s::configmap::LabelSelector;
/// let selector = LabelSelector::new().eq("acm/parity", "even").is_in("acm/set", ["page"]).build().unwrap();
/// let mut op = k8s::configmap::list(&k8s::Context::default(), "acm-paging", &selector);
/// let Step::Send(req, _) = op.poll(std::time::Instant::now()) else { unreachable!() };
/// assert_eq!(req.uri().query(), Some("labelSelector=acm/parity%3Deven%2Cacm/set%20in%20%28page%29&limit=500"));
/// ```
pub fn list(
    ctx: &Context,
    namespace: &str,
    label_selector: &str,
) -> impl Operation<Output = Vec<ConfigMap>, Item = Infallible> + Send + 'static {
    list_with(ctx, namespace, &ListParams::default().labels(label_selector).limit(PAGE_SIZE))
}

/// [`list`] with every list option (page size, field selector, ...).
///
/// ```
/// use clustermanager_core::k8s::{self, api::ListParams};
/// let op = k8s::configmap::list_with(&k8s::Context::default(), "ns", &ListParams::default().fields("metadata.name=cfg"));
/// # let _ = op;
/// ```
pub fn list_with(
    ctx: &Context,
    namespace: &str,
    params: &ListParams,
) -> impl Operation<Output = Vec<ConfigMap>, Item = Infallible> + Send + 'static {
    let checked = super::name::label("namespace", namespace);
    let list = Checked::new(
        checked.map(|()| api::list_all::<ConfigMapBody>(ctx, &Resource::CONFIGMAPS, Some(namespace), params)),
    );
    map_output(list, |result| {
        result.map(|list: ObjectList<ConfigMapBody>| {
            list.items
                .into_iter()
                .map(|c| ConfigMap {
                    namespace: c.metadata.namespace,
                    name: c.metadata.name,
                    labels: c.metadata.labels.unwrap_or_default(),
                    data: c.data.unwrap_or_default(),
                })
                .collect()
        })
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A label selector, built requirement by requirement (all must hold), rendered in the syntax
/// the apiserver parses, and checked by [`build`](LabelSelector::build): keys are
/// `[prefix/]name` (prefix a DNS subdomain of at most 253 characters, name at most 63 of
/// `[A-Za-z0-9._-]` starting and ending alphanumeric), values are empty or like names, and
/// `in`/`notin` need at least one value.
///
/// ```
/// use clustermanager_core::k8s::configmap::LabelSelector;
/// let s = LabelSelector::new().eq("app", "web").ne("tier", "db").not_in("zone", ["a", "b"]).exists("team").not_exists("legacy");
/// assert_eq!(s.build().unwrap(), "app=web,tier!=db,zone notin (a,b),team,!legacy");
/// assert!(LabelSelector::new().eq("bad key!", "x").build().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// A selector that matches everything.
    pub fn new() -> Self {
        LabelSelector(Vec::new())
    }
    /// `key=value`.
    pub fn eq(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push(Requirement::Eq(key.into(), value.into()));
        self
    }
    /// `key!=value` (also matches objects without the label).
    pub fn ne(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push(Requirement::NotEq(key.into(), value.into()));
        self
    }
    /// `key in (v1,v2)`.
    pub fn is_in<I: IntoIterator<Item = S>, S: Into<String>>(mut self, key: impl Into<String>, values: I) -> Self {
        self.0.push(Requirement::In(key.into(), values.into_iter().map(Into::into).collect()));
        self
    }
    /// `key notin (v1,v2)` (also matches objects without the label).
    pub fn not_in<I: IntoIterator<Item = S>, S: Into<String>>(mut self, key: impl Into<String>, values: I) -> Self {
        self.0.push(Requirement::NotIn(key.into(), values.into_iter().map(Into::into).collect()));
        self
    }
    /// `key`: the label is present.
    pub fn exists(mut self, key: impl Into<String>) -> Self {
        self.0.push(Requirement::Exists(key.into()));
        self
    }
    /// `!key`: the label is absent.
    pub fn not_exists(mut self, key: impl Into<String>) -> Self {
        self.0.push(Requirement::NotExists(key.into()));
        self
    }

    /// The selector text, after checking every key and value.
    pub fn build(&self) -> Result<String> {
        self.check()?;
        Ok(self.to_string())
    }

    fn check(&self) -> Result<()> {
        for req in &self.0 {
            match req {
                Requirement::Eq(k, v) | Requirement::NotEq(k, v) => {
                    check_key(k)?;
                    check_value(k, v)?;
                }
                Requirement::In(k, vs) | Requirement::NotIn(k, vs) => {
                    check_key(k)?;
                    if vs.is_empty() {
                        return Err(invalid(k, "`in` and `notin` need at least one value"));
                    }
                    for v in vs {
                        check_value(k, v)?;
                    }
                }
                Requirement::Exists(k) | Requirement::NotExists(k) => check_key(k)?,
            }
        }
        Ok(())
    }

    /// Whether no requirement was added (the selector matches everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses selector text in the grammar the apiserver accepts (`app=web`, `app==web`,
    /// `tier!=db`, `zone in (a,b)`, `zone notin (a,b)`, `team`, `!legacy`, joined by commas,
    /// whitespace around tokens ignored; empty text selects everything) and checks every key
    /// and value as [`build`](LabelSelector::build) does. As on the apiserver, an empty value
    /// list `()` and empty list items (`(a,)`) stand for the empty value. The set-based
    /// comparisons `>` and `<` the apiserver also knows are not modelled and are rejected.
    /// Errors are [`Error::InvalidInput`] naming the token at fault and what was expected.
    ///
    /// ```
    /// use clustermanager_core::k8s::configmap::LabelSelector;
    /// let s = LabelSelector::parse("app == web, zone notin (a, b), !legacy").unwrap();
    /// assert_eq!(s, LabelSelector::new().eq("app", "web").not_in("zone", ["a", "b"]).not_exists("legacy"));
    /// assert!(LabelSelector::parse("zone in (a").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<LabelSelector> {
        let parsed = Parser { tokens: tokenize(text), pos: 0 }
            .selector()
            .map_err(|problem| Error::InvalidInput { field: format!("label selector {text:?}"), problem })?;
        parsed.check()?;
        Ok(parsed)
    }

    /// Whether labels `labels` satisfy every requirement (`!=` and `notin` also hold when the
    /// label is absent).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use clustermanager_core::k8s::configmap::LabelSelector;
    /// let labels = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
    /// assert!(LabelSelector::new().eq("app", "web").not_exists("legacy").matches(&labels));
    /// assert!(!LabelSelector::new().is_in("app", ["db"]).matches(&labels));
    /// ```
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_by(|key| labels.get(key).map(String::as_str))
    }

    /// [`matches`](LabelSelector::matches) with labels looked up by `label` (the value of a
    /// key, `None` when absent), for labels not held in a map.
    pub fn matches_by<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Eq(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEq(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, vs) => label(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => label(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
        })
    }
}

/// A token of selector text, as the apiserver's lexer splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

impl Token<'_> {
    /// The token as the apiserver quotes it in errors (`''` for the end of the text).
    fn text(&self) -> &str {
        match self {
            Token::Ident(s) => s,
            Token::Bang => "!",
            Token::Eq => "=",
            Token::DoubleEq => "==",
            Token::NotEq => "!=",
            Token::Gt => ">",
            Token::Lt => "<",
            Token::Open => "(",
            Token::Close => ")",
            Token::Comma => ",",
            Token::End => "",
        }
    }
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let special = |c: char| c.is_whitespace() || "!=<>(),".contains(c);
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(c) = rest.chars().next() {
        let (token, len) = match c {
            '!' if rest.starts_with("!=") => (Token::NotEq, 2),
            '!' => (Token::Bang, 1),
            '=' if rest.starts_with("==") => (Token::DoubleEq, 2),
            '=' => (Token::Eq, 1),
            '>' => (Token::Gt, 1),
            '<' => (Token::Lt, 1),
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            ',' => (Token::Comma, 1),
            _ => {
                let len = rest.find(special).unwrap_or(rest.len());
                (Token::Ident(&rest[..len]), len)
            }
        };
        out.push(token);
        rest = rest[len..].trim_start();
    }
    out.push(Token::End);
    out
}

/// A recursive-descent parser over [`tokenize`]d text, following the apiserver's
/// (`k8s.io/apimachinery/pkg/labels`); errors are its messages.
struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        self.tokens.get(self.pos).unwrap_or(&Token::End)
    }

    fn bump(&mut self) -> Token<'a> {
        let token = self.peek().clone();
        self.pos += 1;
        token
    }

    /// `in` and `notin` are keywords where a key or operator is expected.
    fn is_keyword(token: &Token<'_>) -> bool {
        matches!(token, Token::Ident("in" | "notin"))
    }

    fn selector(mut self) -> std::result::Result<LabelSelector, String> {
        let mut out = Vec::new();
        if *self.peek() == Token::End {
            return Ok(LabelSelector(out));
        }
        loop {
            match self.peek() {
                Token::Ident(_) | Token::Bang if !Self::is_keyword(self.peek()) => out.push(self.requirement()?),
                other if out.is_empty() => {
                    return Err(format!("found '{}', expected: !, identifier, or 'end of string'", other.text()))
                }
                other => return Err(format!("found '{}', expected: identifier after ','", other.text())),
            }
            match self.bump() {
                Token::End => return Ok(LabelSelector(out)),
                Token::Comma => {}
                other => return Err(format!("found '{}', expected: ',' or 'end of string'", other.text())),
            }
        }
    }

    fn requirement(&mut self) -> std::result::Result<Requirement, String> {
        let absent = *self.peek() == Token::Bang;
        if absent {
            self.bump();
        }
        let key = match self.bump() {
            Token::Ident(k) if !Self::is_keyword(&Token::Ident(k)) => k.to_owned(),
            other => return Err(format!("found '{}', expected: identifier", other.text())),
        };
        if absent {
            return Ok(Requirement::NotExists(key));
        }
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(Requirement::Exists(key));
        }
        match self.bump() {
            Token::Eq | Token::DoubleEq => Ok(Requirement::Eq(key, self.exact_value()?)),
            Token::NotEq => Ok(Requirement::NotEq(key, self.exact_value()?)),
            Token::Ident("in") => Ok(Requirement::In(key, self.values()?)),
            Token::Ident("notin") => Ok(Requirement::NotIn(key, self.values()?)),
            op @ (Token::Gt | Token::Lt) => Err(format!(
                "the comparison `{key} {}` is not supported here (only =, ==, !=, in, notin, exists, !)",
                op.text()
            )),
            other => Err(format!("found '{}', expected: in, notin, =, ==, !=, gt, lt", other.text())),
        }
    }

    /// The value after `=`, `==` or `!=` (empty when the requirement ends there).
    fn exact_value(&mut self) -> std::result::Result<String, String> {
        match self.peek() {
            Token::End | Token::Comma => Ok(String::new()),
            _ => match self.bump() {
                Token::Ident(v) => Ok(v.to_owned()),
                other => Err(format!("found '{}', expected: identifier", other.text())),
            },
        }
    }

    /// `(v1, v2, ...)`; empty items (`()`, `(a,)`, `(,a)`, `(a,,b)`) stand for the empty value.
    fn values(&mut self) -> std::result::Result<Vec<String>, String> {
        match self.bump() {
            Token::Open => {}
            other => return Err(format!("found '{}', expected: '('", other.text())),
        }
        let mut out: Vec<String> = Vec::new();
        let push = |out: &mut Vec<String>, v: &str| {
            if !out.iter().any(|x| x == v) {
                out.push(v.to_owned());
            }
        };
        let mut expect_value = true;
        loop {
            match self.bump() {
                Token::Ident(v) if expect_value => {
                    push(&mut out, v);
                    expect_value = false;
                }
                Token::Comma => {
                    if expect_value {
                        push(&mut out, "");
                    }
                    expect_value = true;
                }
                Token::Close => {
                    if expect_value {
                        push(&mut out, "");
                    }
                    return Ok(out);
                }
                other if expect_value => return Err(format!("found '{}', expected: ',', or identifier", other.text())),
                other => return Err(format!("found '{}', expected: ',' or ')'", other.text())),
            }
        }
    }
}

impl fmt::Display for LabelSelector {
    /// The selector text, unchecked (use [`LabelSelector::build`] to check it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, req) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match req {
                Requirement::Eq(k, v) => write!(f, "{k}={v}")?,
                Requirement::NotEq(k, v) => write!(f, "{k}!={v}")?,
                Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(","))?,
                Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(","))?,
                Requirement::Exists(k) => write!(f, "{k}")?,
                Requirement::NotExists(k) => write!(f, "!{k}")?,
            }
        }
        Ok(())
    }
}

fn invalid(key: &str, problem: &str) -> Error {
    Error::InvalidInput { field: format!("label selector key {key:?}"), problem: problem.to_owned() }
}

fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

fn check_key(key: &str) -> Result<()> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if !is_dns_subdomain(p) {
            return Err(invalid(key, "the prefix before `/` must be a DNS subdomain (lower-case, dots, at most 253)"));
        }
    }
    if !is_name(name) {
        return Err(invalid(
            key,
            "the name must be 1-63 characters of [A-Za-z0-9._-], starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> Result<()> {
    if value.is_empty() || is_name(value) {
        Ok(())
    } else {
        Err(invalid(
            key,
            &format!("value {value:?} must be empty or 1-63 characters of [A-Za-z0-9._-], starting and ending with a letter or digit"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_recorded_selectors() {
        let s = LabelSelector::new().eq("acm/parity", "even").is_in("acm/set", ["page"]);
        assert_eq!(s.build().ok().as_deref(), Some("acm/parity=even,acm/set in (page)"));
        assert_eq!(LabelSelector::new().ne("acm/parity", "even").build().ok().as_deref(), Some("acm/parity!=even"));
    }

    #[test]
    fn rejects_bad_keys_and_values() {
        assert!(LabelSelector::new().eq("Bad.Prefix/x", "y").build().is_err());
        assert!(LabelSelector::new().eq("x", "-y").build().is_err());
        assert!(LabelSelector::new().is_in("x", Vec::<String>::new()).build().is_err());
        assert!(LabelSelector::new().exists("a".repeat(64)).build().is_err());
        assert!(LabelSelector::new().eq("x", "").build().is_ok());
        assert_eq!(LabelSelector::new().build().ok().as_deref(), Some(""));
    }

    fn parsed(text: &str) -> LabelSelector {
        LabelSelector::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn parse_then_render_round_trips() {
        for text in [
            "",
            "app=web",
            "acm/parity=even,acm/set in (page)",
            "acm/parity!=even",
            "app=web,tier!=db,zone notin (a,b),team,!legacy",
            "x=",
            "x in (,a)",
            "example.com/x in (a,b,c)",
        ] {
            let s = parsed(text);
            assert_eq!(s.build().ok().as_deref(), Some(text));
            assert_eq!(parsed(&s.to_string()), s);
        }
        let built =
            LabelSelector::new().eq("app", "web").ne("tier", "db").is_in("z", ["a", "b"]).exists("t").not_exists("l");
        assert_eq!(parsed(&built.to_string()), built);
    }

    #[test]
    fn parse_accepts_the_apiservers_spellings() {
        assert_eq!(parsed("  a == b , c!=d,e  in(f , g),h notin ( i ),! j "), {
            LabelSelector::new().eq("a", "b").ne("c", "d").is_in("e", ["f", "g"]).not_in("h", ["i"]).not_exists("j")
        });
        assert_eq!(parsed("x in ()"), LabelSelector::new().is_in("x", [""]));
        assert_eq!(parsed("x in (a,)"), LabelSelector::new().is_in("x", ["a", ""]));
        assert_eq!(parsed("x in (a,a,in)"), LabelSelector::new().is_in("x", ["a", "in"]));
        assert_eq!(parsed("x!="), LabelSelector::new().ne("x", ""));
        assert!(parsed(" ").is_empty());
    }

    #[test]
    fn parse_rejects_what_the_apiserver_rejects() {
        for (text, problem) in [
            ("acm/parity in (even", "found '', expected: ',' or ')'"),
            ("x in a", "found 'a', expected: '('"),
            ("x in (a b)", "found 'b', expected: ',' or ')'"),
            ("x in (", "found '', expected: ',', or identifier"),
            ("a=b,", "found '', expected: identifier after ','"),
            ("a,,b", "found ',', expected: identifier after ','"),
            (",a", "found ',', expected: !, identifier, or 'end of string'"),
            ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a==(", "found '(', expected: identifier"),
            ("!", "found '', expected: identifier"),
            ("!in", "found 'in', expected: identifier"),
            ("x>1", "the comparison `x >` is not supported"),
        ] {
            match LabelSelector::parse(text) {
                Err(Error::InvalidInput { problem: p, .. }) => assert!(p.contains(problem), "{text:?}: {p}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        for bad in ["Bad.Prefix/x=y", "x=-y", "/x", "a/b/c", "x in (a,-b)", "!x_", &"k".repeat(64)] {
            assert!(matches!(LabelSelector::parse(bad), Err(Error::InvalidInput { .. })), "{bad:?}");
        }
    }

    #[test]
    fn matches_each_operator() {
        let labels: BTreeMap<String, String> =
            [("app", "web"), ("tier", "")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let holds = |text: &str| parsed(text).matches(&labels);
        assert!(holds(""));
        assert!(holds("app=web") && holds("app==web") && !holds("app=db") && !holds("zone=a"));
        assert!(holds("tier=") && !holds("zone="));
        assert!(holds("app!=db") && !holds("app!=web") && holds("zone!=a"));
        assert!(holds("app in (db,web)") && !holds("app in (db)") && !holds("zone in (a)"));
        assert!(holds("app notin (db)") && !holds("app notin (db,web)") && holds("zone notin (a)"));
        assert!(holds("app") && holds("tier") && !holds("zone"));
        assert!(holds("!zone") && !holds("!app"));
        assert!(holds("app=web,!zone,tier") && !holds("app=web,zone"));
    }
}
