//! The part of `cv::FileStorage`'s YAML and JSON that calibration files use, read into a
//! tree whose every node knows its line, so that later checks can say where a value is.
//!
//! YAML libraries refuse what OpenCV writes (`%YAML:1.0`, `!!opencv-matrix`, flow maps
//! such as `{ x:1, y:z }`), so this reads the subset OpenCV writes and reads: block maps and
//! sequences, flow maps and sequences that may span lines, plain, single- and
//! double-quoted scalars, tags, comments, and block scalars (only to step over them).
//! JSON is read by the same flow reader in a strict mode that also takes what OpenCV's own
//! JSON reader takes: `//` and `/* */` comments, the `\'` escape and `.Nan`, `.Inf`.

use std::borrow::Cow;
use std::collections::HashMap;

/// How deep flow collections may nest; deeper input is refused rather than risk the stack.
const MAX_DEPTH: usize = 64;

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    /// The 1-based line the node starts on.
    pub line: usize,
    /// A YAML tag without its leading `!`s, such as `opencv-matrix`.
    pub tag: Option<String>,
    /// What the node holds.
    pub value: Value,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// A scalar; `quoted` tells a string from a number or a bare word.
    Scalar {
        /// The text, with quotes removed and escapes resolved.
        text: String,
        /// Whether the text was in quotes.
        quoted: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A map, in file order; the reader refuses duplicate keys.
    Map(Vec<Entry>),
}

/// A key and its value in a map.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    /// The key.
    pub key: String,
    /// The 1-based line of the key.
    pub line: usize,
    /// The value.
    pub node: Node,
}

/// Text that is not valid YAML or JSON of the kind OpenCV writes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SyntaxError {
    /// The 1-based line.
    pub line: usize,
    /// Where in the tree the reader was, such as `camera_matrix.data[4]`, or `document`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

type Result<T> = std::result::Result<T, SyntaxError>;

/// Reads a YAML document: an optional `%YAML` directive and `---`, then one node (for
/// OpenCV, a map). Anything after a second `---` or a `...` is ignored, as OpenCV reads
/// only the first stream when asked for a key.
pub(super) fn yaml(text: &str) -> Result<Node> {
    let text = normalise_newlines(text);
    let mut p = Parser::new(&text, false);
    let mut started = false;
    while p.next_content_line()? {
        if p.column() == 0 && p.peek() == Some(b'%') {
            let directive = p.rest_of_line().trim_end();
            if let Some(version) = directive.strip_prefix("%YAML") {
                let version = version.trim_start_matches([':', ' ']);
                if !version.starts_with("1.") {
                    return Err(p.error(format!(
                        "unsupported YAML version `{version}`; OpenCV writes 1.0 or 1.2"
                    )));
                }
            }
            p.skip_line();
            continue;
        }
        if p.at_document_marker(b"---") {
            if started {
                break;
            }
            started = true;
            p.advance(3);
            p.skip_spaces();
            if !p.at_line_end() {
                return Err(p.error("put the first value on the line after `---`"));
            }
            p.skip_line();
            continue;
        }
        break;
    }
    if p.peek().is_none() || p.at_document_marker(b"---") || p.at_document_marker(b"...") {
        return Ok(Node {
            line: p.line,
            tag: None,
            value: Value::Map(Vec::new()),
        });
    }
    let node = p.block_node()?;
    if p.peek().is_some() && !p.at_document_marker(b"---") && !p.at_document_marker(b"...") {
        return Err(p.error("unexpected text here; check the indentation of this line"));
    }
    Ok(node)
}

/// Reads a JSON document in the form `cv::FileStorage` writes.
pub(super) fn json(text: &str) -> Result<Node> {
    let text = normalise_newlines(text);
    let mut p = Parser::new(&text, true);
    let node = p.flow_node()?;
    p.skip_flow_space()?;
    if p.peek().is_some() {
        return Err(p.error("unexpected text after the end of the JSON object"));
    }
    Ok(node)
}

/// Turns `\r\n` and lone `\r` into `\n`, so that lines are counted one way.
fn normalise_newlines(text: &str) -> Cow<'_, str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A cursor over the text with the line it is on and the path to the node being read.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
    json: bool,
    path: Vec<String>,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, json: bool) -> Self {
        Parser {
            text,
            pos: 0,
            line: 1,
            line_start: 0,
            json,
            path: Vec::new(),
            depth: 0,
        }
    }

    fn error(&self, problem: impl Into<String>) -> SyntaxError {
        self.error_at(self.line, problem)
    }

    fn error_at(&self, line: usize, problem: impl Into<String>) -> SyntaxError {
        let mut field = String::new();
        for part in &self.path {
            if !field.is_empty() && !part.starts_with('[') {
                field.push('.');
            }
            field.push_str(part);
        }
        if field.is_empty() {
            field.push_str("document");
        }
        SyntaxError {
            line,
            field,
            problem: problem.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + offset).copied()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += 1;
            if c == b'\n' {
                self.line += 1;
                self.line_start = self.pos;
            }
        }
    }

    /// Moves over `n` bytes that are known to hold no line break.
    fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.text.len());
    }

    fn column(&self) -> usize {
        self.pos - self.line_start
    }

    fn rest_of_line(&self) -> &'a str {
        let rest = &self.text[self.pos..];
        &rest[..rest.find('\n').unwrap_or(rest.len())]
    }

    /// The character at the cursor, for messages.
    fn shown(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "the end of the file".into(),
            Some('\n') => "the end of the line".into(),
            Some(c) => format!("`{c}`"),
        }
    }

    // ---- YAML block structure ----

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Whether a `#` here starts a comment: at the start of a line or after a space.
    fn comment_starts(&self) -> bool {
        self.peek() == Some(b'#')
            && (self.pos == 0 || matches!(self.text.as_bytes()[self.pos - 1], b' ' | b'\t' | b'\n'))
    }

    fn at_line_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'\n')) || self.comment_starts()
    }

    /// Moves past the end of the current line.
    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            self.bump();
            if c == b'\n' {
                break;
            }
        }
    }

    /// From the start of a line, moves over blank and comment lines to the first character
    /// of the next line with content; false at the end of the text.
    fn next_content_line(&mut self) -> Result<bool> {
        loop {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            match self.peek() {
                None => return Ok(false),
                Some(b'\t') => {
                    self.skip_spaces();
                    if !self.at_line_end() {
                        return Err(self.error("tabs may not indent YAML; use spaces"));
                    }
                    self.skip_line();
                }
                Some(b'\n') => self.skip_line(),
                Some(b'#') => self.skip_line(),
                Some(_) => return Ok(true),
            }
        }
    }

    /// After a value: only spaces or a comment may follow on its line; then moves to the
    /// next line with content.
    fn finish_line(&mut self) -> Result<()> {
        self.skip_spaces();
        if !self.at_line_end() {
            return Err(self.error(format!("unexpected {} after the value", self.shown())));
        }
        self.skip_line();
        self.next_content_line()?;
        Ok(())
    }

    fn at_document_marker(&self, marker: &[u8]) -> bool {
        self.column() == 0
            && self.text.as_bytes()[self.pos..].starts_with(marker)
            && matches!(self.peek_at(3), None | Some(b' ' | b'\n'))
    }

    fn at_seq_item(&self) -> bool {
        self.peek() == Some(b'-') && matches!(self.peek_at(1), None | Some(b' ' | b'\n'))
    }

    /// Whether the rest of the line is `key: ...` (a plain or quoted key, then a colon
    /// followed by a space or the end of the line).
    fn line_has_key(&self) -> bool {
        let line = self.rest_of_line();
        let bytes = line.as_bytes();
        let after_key = match bytes.first() {
            Some(&q @ (b'"' | b'\'')) => {
                let mut i = 1;
                loop {
                    match bytes.get(i) {
                        None => return false,
                        Some(b'\\') if q == b'"' => i += 2,
                        Some(&c) if c == q => break i + 1,
                        Some(_) => i += 1,
                    }
                }
            }
            Some(b'[' | b'{' | b'!' | b'|' | b'>' | b'#') | None => return false,
            Some(_) => {
                let Some(colon) = plain_key_end(line) else {
                    return false;
                };
                colon
            }
        };
        let rest = line[after_key.min(line.len())..].trim_start_matches([' ', '\t']);
        rest.starts_with(':') && matches!(rest.as_bytes().get(1), None | Some(b' ' | b'\t'))
    }

    /// A node starting at the cursor, in block context; its indentation is the column.
    fn block_node(&mut self) -> Result<Node> {
        let indent = self.column();
        if self.at_seq_item() {
            return self.block_seq(indent);
        }
        if self.line_has_key() {
            return self.block_map(indent);
        }
        match self.peek() {
            Some(b'!') => Err(self.error("a tag must follow `name:` or `-` on the same line")),
            _ => {
                let node = self.inline_value(None)?;
                self.finish_line()?;
                Ok(node)
            }
        }
    }

    fn block_map(&mut self, indent: usize) -> Result<Node> {
        let line = self.line;
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen = HashMap::new();
        loop {
            if self.at_seq_item() {
                return Err(self.error("a list item where `name: value` was expected"));
            }
            let key_line = self.line;
            let key = self.block_key()?;
            if let Some(first) = seen.insert(key.clone(), key_line) {
                return Err(self.error(format!(
                    "`{key}` appears twice (first on line {first}); keep one"
                )));
            }
            self.path.push(key.clone());
            let node = self.after_indicator(indent, true)?;
            self.path.pop();
            entries.push(Entry {
                key,
                line: key_line,
                node,
            });
            if self.peek().is_none()
                || self.at_document_marker(b"---")
                || self.at_document_marker(b"...")
                || self.column() < indent
            {
                break;
            }
            if self.column() > indent {
                return Err(self.error(
                    "this line is indented more than the names above it; check the indentation",
                ));
            }
        }
        Ok(Node {
            line,
            tag: None,
            value: Value::Map(entries),
        })
    }

    /// A key in block context, up to and including its colon.
    fn block_key(&mut self) -> Result<String> {
        let key = match self.peek() {
            Some(b'"') => self.double_quoted()?,
            Some(b'\'') => self.single_quoted()?,
            _ => {
                let line = self.rest_of_line();
                let Some(end) = plain_key_end(line) else {
                    return Err(self.error("expected `name: value`"));
                };
                let key = line[..end].trim_end().to_string();
                self.advance(end);
                key
            }
        };
        self.skip_spaces();
        if self.peek() != Some(b':') {
            return Err(self.error(format!("expected `:` after `{key}`")));
        }
        if key.is_empty() {
            return Err(self.error("a name is empty"));
        }
        self.bump();
        Ok(key)
    }

    fn block_seq(&mut self, indent: usize) -> Result<Node> {
        let line = self.line;
        let mut items = Vec::new();
        loop {
            self.path.push(format!("[{}]", items.len()));
            self.bump(); // the `-`
            let node = self.after_indicator(indent, false)?;
            self.path.pop();
            items.push(node);
            if self.peek().is_none()
                || self.at_document_marker(b"---")
                || self.at_document_marker(b"...")
                || self.column() < indent
            {
                break;
            }
            if self.column() > indent {
                return Err(self.error(
                    "this line is indented more than the list items above it; check the indentation",
                ));
            }
            if !self.at_seq_item() {
                // A list written at the same indentation as its map's names ends here.
                break;
            }
        }
        Ok(Node {
            line,
            tag: None,
            value: Value::Seq(items),
        })
    }

    /// The value after `name:` or `-`: on the same line, or on the lines below, indented
    /// more than `indent` (for a map's value, a list may also sit at `indent`).
    fn after_indicator(&mut self, indent: usize, in_map: bool) -> Result<Node> {
        if self.depth == MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        let node = self.value_after(indent, in_map);
        self.depth -= 1;
        node
    }

    fn value_after(&mut self, indent: usize, in_map: bool) -> Result<Node> {
        let line = self.line;
        self.skip_spaces();
        let tag = if self.peek() == Some(b'!') {
            let tag = self.tag();
            self.skip_spaces();
            Some(tag)
        } else {
            None
        };
        if self.at_line_end() {
            self.skip_line();
            let more = self.next_content_line()?;
            let mut node = if more
                && !self.at_document_marker(b"---")
                && !self.at_document_marker(b"...")
                && (self.column() > indent
                    || (in_map && self.column() == indent && self.at_seq_item()))
            {
                self.block_node()?
            } else {
                Node {
                    line,
                    tag: None,
                    value: Value::Scalar {
                        text: String::new(),
                        quoted: false,
                    },
                }
            };
            node.tag = tag.or(node.tag);
            return Ok(node);
        }
        let mut node = match self.peek() {
            Some(b'|' | b'>') => return self.block_scalar(indent, tag),
            Some(_) if !in_map && self.line_has_key() => self.block_map(self.column())?,
            _ => {
                let node = self.inline_value(None)?;
                self.finish_line()?;
                node
            }
        };
        node.tag = tag.or(node.tag);
        Ok(node)
    }

    /// A flow collection, a quoted scalar, or a plain scalar running to the end of the line.
    fn inline_value(&mut self, tag: Option<String>) -> Result<Node> {
        let line = self.line;
        let value = match self.peek() {
            Some(b'[' | b'{') => return self.flow_node(),
            Some(b'"') => Value::Scalar {
                text: self.double_quoted()?,
                quoted: true,
            },
            Some(b'\'') => Value::Scalar {
                text: self.single_quoted()?,
                quoted: true,
            },
            _ => {
                let start = self.pos;
                while !self.at_line_end() {
                    self.pos += 1;
                }
                Value::Scalar {
                    text: self.text[start..self.pos].trim_end().to_string(),
                    quoted: false,
                }
            }
        };
        Ok(Node { line, tag, value })
    }

    /// A `|` or `>` block scalar: the lines indented more than `indent`, joined. OpenCV
    /// writes these only for base64 data, which the caller refuses, so folding rules are
    /// not followed.
    fn block_scalar(&mut self, indent: usize, tag: Option<String>) -> Result<Node> {
        let line = self.line;
        self.skip_line();
        let mut lines = Vec::new();
        loop {
            let start = self.pos;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            match self.peek() {
                None => break,
                Some(b'\n') => {
                    lines.push("");
                    self.skip_line();
                }
                Some(_) if self.column() > indent => {
                    lines.push(self.rest_of_line());
                    self.skip_line();
                }
                Some(_) => {
                    self.pos = start;
                    break;
                }
            }
        }
        self.next_content_line()?;
        Ok(Node {
            line,
            tag,
            value: Value::Scalar {
                text: lines.join("\n").trim_end().to_string(),
                quoted: true,
            },
        })
    }

    /// A `!tag` or `!!tag`, returned without its `!`s.
    fn tag(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, b' ' | b'\t' | b'\n' | b',' | b']' | b'}') {
                break;
            }
            self.pos += 1;
        }
        self.text[start..self.pos]
            .trim_start_matches('!')
            .to_string()
    }

    // ---- flow collections (and JSON) ----

    /// Moves over spaces, line breaks and comments.
    fn skip_flow_space(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n') => self.bump(),
                Some(b'#') if !self.json && self.comment_starts() => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.json && self.peek_at(1) == Some(b'/') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.json && self.peek_at(1) == Some(b'*') => {
                    let line = self.line;
                    self.advance(2);
                    loop {
                        match self.peek() {
                            None => return Err(self.error_at(line, "unterminated `/*` comment")),
                            Some(b'*') if self.peek_at(1) == Some(b'/') => {
                                self.advance(2);
                                break;
                            }
                            Some(_) => self.bump(),
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn flow_node(&mut self) -> Result<Node> {
        self.skip_flow_space()?;
        let line = self.line;
        match self.peek() {
            None => Err(self.error("unexpected end of the file; a value is missing")),
            Some(b'[' | b'{') => {
                if self.depth == MAX_DEPTH {
                    return Err(self.error(format!("nested more than {MAX_DEPTH} deep")));
                }
                self.depth += 1;
                let node = if self.peek() == Some(b'[') {
                    self.flow_seq()
                } else {
                    self.flow_map()
                };
                self.depth -= 1;
                node
            }
            Some(b'"') => Ok(Node {
                line,
                tag: None,
                value: Value::Scalar {
                    text: self.double_quoted()?,
                    quoted: true,
                },
            }),
            Some(b'\'') if !self.json => Ok(Node {
                line,
                tag: None,
                value: Value::Scalar {
                    text: self.single_quoted()?,
                    quoted: true,
                },
            }),
            Some(b'!') if !self.json => {
                let tag = self.tag();
                let mut node = self.flow_node()?;
                node.tag = Some(tag);
                Ok(node)
            }
            Some(b']' | b'}' | b',' | b':') => {
                Err(self.error(format!("expected a value, found {}", self.shown())))
            }
            Some(_) => {
                let text = if self.json {
                    self.json_word()?
                } else {
                    self.flow_plain(false)
                };
                Ok(Node {
                    line,
                    tag: None,
                    value: Value::Scalar {
                        text,
                        quoted: false,
                    },
                })
            }
        }
    }

    fn flow_seq(&mut self) -> Result<Node> {
        let line = self.line;
        self.bump(); // `[`
        let mut items = Vec::new();
        self.skip_flow_space()?;
        if self.peek() == Some(b']') {
            self.bump();
        } else {
            loop {
                self.path.push(format!("[{}]", items.len()));
                items.push(self.flow_node()?);
                self.skip_flow_space()?;
                self.path.pop();
                match self.peek() {
                    Some(b',') => {
                        self.bump();
                        self.skip_flow_space()?;
                        if !self.json && self.peek() == Some(b']') {
                            self.bump();
                            break;
                        }
                    }
                    Some(b']') => {
                        self.bump();
                        break;
                    }
                    _ => {
                        self.path.push(format!("[{}]", items.len() - 1));
                        let e = self.error(format!(
                            "expected `,` or `]` after this value, found {}",
                            self.shown()
                        ));
                        return Err(e);
                    }
                }
            }
        }
        Ok(Node {
            line,
            tag: None,
            value: Value::Seq(items),
        })
    }

    fn flow_map(&mut self) -> Result<Node> {
        let line = self.line;
        self.bump(); // `{`
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen = HashMap::new();
        self.skip_flow_space()?;
        if self.peek() == Some(b'}') {
            self.bump();
        } else {
            loop {
                self.skip_flow_space()?;
                let key_line = self.line;
                let key = match self.peek() {
                    Some(b'"') => self.double_quoted()?,
                    Some(b'\'') if !self.json => self.single_quoted()?,
                    Some(b'}' | b',' | b':') | None => {
                        return Err(self.error(format!("expected a name, found {}", self.shown())));
                    }
                    Some(_) if self.json => {
                        return Err(self.error("a name must be in double quotes"));
                    }
                    Some(_) => self.flow_plain(true),
                };
                if key.is_empty() {
                    return Err(self.error("a name is empty"));
                }
                if let Some(first) = seen.insert(key.clone(), key_line) {
                    return Err(self.error(format!(
                        "`{key}` appears twice (first on line {first}); keep one"
                    )));
                }
                self.skip_flow_space()?;
                if self.peek() != Some(b':') {
                    return Err(self.error(format!(
                        "expected `:` after `{key}`, found {}",
                        self.shown()
                    )));
                }
                self.bump();
                self.path.push(key.clone());
                let node = self.flow_node()?;
                self.skip_flow_space()?;
                entries.push(Entry {
                    key,
                    line: key_line,
                    node,
                });
                match self.peek() {
                    Some(b',') => {
                        self.path.pop();
                        self.bump();
                        self.skip_flow_space()?;
                        if !self.json && self.peek() == Some(b'}') {
                            self.bump();
                            break;
                        }
                    }
                    Some(b'}') => {
                        self.path.pop();
                        self.bump();
                        break;
                    }
                    _ => {
                        return Err(self.error(format!(
                            "expected `,` or `}}` after this value, found {}",
                            self.shown()
                        )));
                    }
                }
            }
        }
        Ok(Node {
            line,
            tag: None,
            value: Value::Map(entries),
        })
    }

    /// A plain scalar in a flow collection: up to `,`, `]`, `}`, a line break or a
    /// comment, and for a key also up to `:` (OpenCV writes `{ x:1 }`).
    fn flow_plain(&mut self, key: bool) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b']' | b'}' | b'\n')
                || (key && c == b':')
                || self.comment_starts()
            {
                break;
            }
            self.pos += 1;
        }
        self.text[start..self.pos].trim_end().to_string()
    }

    /// A bare JSON value: a number, `true`, `false`, `null`, or OpenCV's `.Nan`, `.Inf`
    /// and `-.Inf`.
    fn json_word(&mut self) -> Result<String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(
                c,
                b' ' | b'\t' | b'\n' | b',' | b']' | b'}' | b':' | b'/' | b'"'
            ) {
                break;
            }
            self.advance(
                self.text[self.pos..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8),
            );
        }
        let word = &self.text[start..self.pos];
        let lower = word.to_ascii_lowercase();
        let special = matches!(
            lower.as_str(),
            "true" | "false" | "null" | ".nan" | ".inf" | "+.inf" | "-.inf"
        );
        if special || is_json_number(word) {
            Ok(word.to_string())
        } else if word.is_empty() {
            Err(self.error(format!("unexpected {}", self.shown())))
        } else {
            Err(self.error(format!("`{word}` is not a number")))
        }
    }

    // ---- quoted scalars ----

    fn double_quoted(&mut self) -> Result<String> {
        let line = self.line;
        self.bump(); // `"`
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error_at(line, "unterminated string")),
                Some(b'"') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.bump();
                    self.escape(&mut out)?;
                    run = self.pos;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// The character after a `\` in a double-quoted string.
    fn escape(&mut self, out: &mut String) -> Result<()> {
        let Some(c) = self.text[self.pos..].chars().next() else {
            return Err(self.error("unterminated string"));
        };
        self.advance(c.len_utf8());
        let yaml = !self.json;
        let decoded = match c {
            '"' | '\\' | '/' | '\'' => c,
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'b' => '\u{8}',
            'f' => '\u{c}',
            '0' if yaml => '\0',
            'a' if yaml => '\u{7}',
            'v' if yaml => '\u{b}',
            'e' if yaml => '\u{1b}',
            ' ' if yaml => ' ',
            'x' if yaml => self.hex_char(2)?,
            'U' if yaml => self.hex_char(8)?,
            'u' => {
                let high = self.hex(4)?;
                if (0xd800..0xdc00).contains(&high) && self.text[self.pos..].starts_with("\\u") {
                    self.advance(2);
                    let low = self.hex(4)?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err(self.error("`\\u` escapes a broken surrogate pair"));
                    }
                    char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
                        .ok_or_else(|| self.error("`\\u` escapes a broken surrogate pair"))?
                } else {
                    char::from_u32(high)
                        .ok_or_else(|| self.error("`\\u` escapes a lone surrogate"))?
                }
            }
            _ => return Err(self.error(format!("unknown escape `\\{c}`"))),
        };
        out.push(decoded);
        Ok(())
    }

    fn hex(&mut self, digits: usize) -> Result<u32> {
        let raw = self.text[self.pos..].get(..digits).unwrap_or("");
        let value = (raw.len() == digits && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(raw, 16).ok())
            .flatten()
            .ok_or_else(|| self.error(format!("an escape needs {digits} hexadecimal digits")))?;
        self.advance(digits);
        Ok(value)
    }

    fn hex_char(&mut self, digits: usize) -> Result<char> {
        let value = self.hex(digits)?;
        char::from_u32(value).ok_or_else(|| self.error(format!("`{value:x}` is not a character")))
    }

    fn single_quoted(&mut self) -> Result<String> {
        let line = self.line;
        self.bump(); // `'`
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error_at(line, "unterminated string")),
                Some(b'\'') if self.peek_at(1) == Some(b'\'') => {
                    out.push_str(&self.text[run..=self.pos]);
                    self.advance(2);
                    run = self.pos;
                }
                Some(b'\'') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.bump();
                    return Ok(out);
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// Where a plain key on this line ends: at the first `:` that a space or the end of the
/// line follows, before any comment.
fn plain_key_end(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t') => return None,
            b':' if matches!(bytes.get(i + 1), None | Some(b' ' | b'\t')) => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether `word` is a number in JSON's grammar.
fn is_json_number(word: &str) -> bool {
    let b = word.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> (&str, bool) {
        match &node.value {
            Value::Scalar { text, quoted } => (text, *quoted),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    fn get<'n>(node: &'n Node, key: &str) -> &'n Node {
        match &node.value {
            Value::Map(entries) => &entries.iter().find(|e| e.key == key).unwrap().node,
            other => panic!("not a map: {other:?}"),
        }
    }

    fn items(node: &Node) -> &[Node] {
        match &node.value {
            Value::Seq(items) => items,
            other => panic!("not a sequence: {other:?}"),
        }
    }

    #[test]
    fn yaml_as_opencv_writes_it() {
        // Written by cv2.FileStorage 4.10 (strings, nested structures, flow map, empties).
        let text = "%YAML:1.0\n---\ns0: cam 01\ns1: \"\"\ns6: \"Bob\\'s cam\"\ns12: \"ctl\\x01x\"\n\
            s10: \"Kamera Ü\"\nseq:\n   - 1\n   - two\n   -\n      a: 1\n      b: !!opencv-matrix\n\
            \x20        rows: 2\n         cols: 2\n         dt: d\n         data: [ 1., 0., 0., 1. ]\n\
            \x20  - [ 1, 2.5 ]\nflowmap: { x:1, y:z }\nemptyseq:\n   []\nemptymap:\n   {}\n\
            nd: !!opencv-matrix\n   rows: 2\n   cols: 2\n   dt: \"2d\"\n   data: [ 0., 0., 0., 0.,\n       0., 0., 0., 0. ]\n";
        let root = yaml(text).unwrap();
        assert_eq!(scalar(get(&root, "s0")), ("cam 01", false));
        assert_eq!(scalar(get(&root, "s1")), ("", true));
        assert_eq!(scalar(get(&root, "s6")).0, "Bob's cam");
        assert_eq!(scalar(get(&root, "s12")).0, "ctl\u{1}x");
        assert_eq!(scalar(get(&root, "s10")).0, "Kamera Ü");
        let seq = items(get(&root, "seq"));
        assert_eq!(seq.len(), 4);
        assert_eq!(scalar(&seq[1]), ("two", false));
        let b = get(&seq[2], "b");
        assert_eq!(b.tag.as_deref(), Some("opencv-matrix"));
        assert_eq!(items(get(b, "data")).len(), 4);
        assert_eq!(items(&seq[3]).len(), 2);
        assert_eq!(scalar(get(get(&root, "flowmap"), "y")), ("z", false));
        assert!(items(get(&root, "emptyseq")).is_empty());
        assert_eq!(get(&root, "emptymap").value, Value::Map(Vec::new()));
        let data = items(get(get(&root, "nd"), "data"));
        assert_eq!((data.len(), data[4].line), (8, 29));
        assert_eq!(scalar(get(get(&root, "nd"), "dt")), ("2d", true));
    }

    #[test]
    fn yaml_variants_that_opencv_also_reads() {
        let text = "# a comment\r\nname: x # trailing\r\nlist:\r\n- a\r\n- 'it''s'\r\nnext: { \"q\": [1, 2,], }\r\n";
        let root = yaml(text).unwrap();
        assert_eq!(scalar(get(&root, "name")), ("x", false));
        assert_eq!(scalar(&items(get(&root, "list"))[1]).0, "it's");
        assert_eq!(items(get(get(&root, "next"), "q")).len(), 2);
        assert_eq!(get(&root, "next").line, 6);
        assert!(yaml("%YAML 2.0\n---\na: 1\n").is_err());
        assert!(
            yaml("a: 1\n...\n---\nb: [\n").is_ok(),
            "a second stream is not read"
        );
    }

    #[test]
    fn json_as_opencv_writes_it() {
        let text = "{\n    \"s6\": \"Bob\\'s cam\",\n    \"m\": {\n        \"type_id\": \"opencv-matrix\",\n\
            \x20       \"data\": [ 0.5, -1e+17, .Nan,\n            -.Inf ]\n    }, // a comment\n\
            \x20   \"e\": [\n    ], \"u\": \"\\u00dc\\ud83c\\udfbf\"\n}\n";
        let root = json(text).unwrap();
        assert_eq!(scalar(get(&root, "s6")).0, "Bob's cam");
        let data = items(get(get(&root, "m"), "data"));
        assert_eq!(scalar(&data[3]), ("-.Inf", false));
        assert_eq!((data[0].line, data[3].line), (5, 6));
        assert_eq!(scalar(get(&root, "u")).0, "Ü🎿");
    }

    #[test]
    fn errors_say_where() {
        let cases: &[(&str, bool, usize, &str, &str)] = &[
            ("a: [ 1, 2\nb: 3\n", false, 2, "a[1]", "expected `,` or `]`"),
            ("a:\n  b: 1\n    c: 2\n", false, 3, "a", "indented more"),
            (
                "a: 1\na: 2\n",
                false,
                2,
                "document",
                "appears twice (first on line 1)",
            ),
            ("a: \"open\n", false, 1, "a", "unterminated string"),
            ("a:\n\tb: 1\n", false, 2, "a", "tabs"),
            ("a: 1\nb\n", false, 2, "document", "expected `name: value`"),
            ("a: { x }\n", false, 1, "a", "expected `:` after `x`"),
            (
                "{\n \"a\": {\n  \"b\": [ 1, 2x ]\n }\n}",
                true,
                3,
                "a.b[1]",
                "`2x` is not a number",
            ),
            ("{ \"a\": 1 } x", true, 1, "document", "after the end"),
            ("{ a: 1 }", true, 1, "document", "double quotes"),
            ("{ \"a\": [1,] }", true, 1, "a[1]", "expected a value"),
            ("{ \"a\": \"\\q\" }", true, 1, "a", "unknown escape"),
        ];
        for &(text, is_json, line, field, problem) in cases {
            let e = if is_json { json(text) } else { yaml(text) }.unwrap_err();
            assert_eq!((e.line, e.field.as_str()), (line, field), "{text:?}: {e:?}");
            assert!(e.problem.contains(problem), "{text:?}: {e:?}");
        }
        let deep: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let e = yaml(&deep).unwrap_err();
        assert!(e.problem.contains("nested more than 64 deep"), "{e:?}");
        let deep = format!("{{\"a\": {}", "[".repeat(100));
        let e = json(&deep).unwrap_err();
        assert!(e.problem.contains("nested more than 64 deep"), "{e:?}");
        assert!(e.field.starts_with("a[0][0]"), "{e:?}");
    }

    #[test]
    fn json_numbers_follow_the_grammar() {
        for good in ["0", "-0", "12", "1.5", "-1.5e+17", "1E5", "0.0001"] {
            assert!(is_json_number(good), "{good}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "+1", "1.2.3", "0x10"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
