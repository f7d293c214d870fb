//! A minimal streaming JSON object writer. `decode` prints one object per frame and runs over
//! millions of frames, so it writes straight into a reused `String` instead of building
//! `serde_json::Value` trees.

use std::fmt::Write;

/// Writes one JSON object (possibly nested) into a string buffer.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        string(self.out, v);
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.str(k, s),
            None => self.null(k),
        }
    }

    /// A value that is already valid JSON text (number formatted by the caller, etc.).
    pub fn raw(&mut self, k: &str, v: std::fmt::Arguments<'_>) -> &mut Self {
        self.key(k);
        let _ = self.out.write_fmt(v);
        self
    }

    /// A string value built from format arguments (must not need escaping: hex, addresses).
    pub fn fmt_str(&mut self, k: &str, v: std::fmt::Arguments<'_>) -> &mut Self {
        self.key(k);
        self.out.push('"');
        let _ = self.out.write_fmt(v);
        self.out.push('"');
        self
    }

    pub fn num(&mut self, k: &str, v: u64) -> &mut Self {
        self.raw(k, format_args!("{v}"))
    }

    pub fn opt_num(&mut self, k: &str, v: Option<u64>) -> &mut Self {
        match v {
            Some(n) => self.num(k, n),
            None => self.null(k),
        }
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.raw(k, format_args!("{v}"))
    }

    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.out.push_str("null");
        self
    }

    /// A nested object; `f` fills it.
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(k);
        let mut inner = Obj::new(self.out);
        f(&mut inner);
        inner.close();
        self
    }

    pub fn close(self) {
        self.out.push('}');
    }
}

/// Appends `s` as a JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    // Fast path: most strings (addresses, names, hex) need no escaping.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let mut s = String::new();
        let mut o = Obj::new(&mut s);
        o.num("a", 1).str("b", "x\"y\n\u{1}").null("c").bool("d", true);
        o.obj("e", |e| {
            e.fmt_str("f", format_args!("0x{:04x}", 0x12));
        });
        o.close();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["b"], "x\"y\n\u{1}");
        assert_eq!(v["e"]["f"], "0x0012");
        assert_eq!(v["c"], serde_json::Value::Null);
    }
}
