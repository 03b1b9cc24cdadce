//! The error a module hands back to the host: the WIT `error` record.

use std::fmt;

/// A failure reported by a module; the host shows its message to the operator
/// with the module's name.
///
/// This is the WIT record `piste:module/types.error` (the bindings use this
/// type for it). Write the message lower-case, without a trailing period, and
/// say what the operator can do about it: `config key `min_distance_m` must be
/// a number`.
#[derive(Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Error {
    /// What went wrong, in a sentence the operator can act on.
    pub message: String,
}

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Error").field(&self.message).finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error { message }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::new(message)
    }
}

impl From<fmt::Error> for Error {
    fn from(_: fmt::Error) -> Self {
        Error::new("formatting failed")
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn displays_the_bare_message() {
        let error = Error::new("config key `x` must be a number");
        assert_eq!(error.to_string(), "config key `x` must be a number");
        assert_eq!(Error::from("a"), Error::from(String::from("a")));
        assert_eq!(
            format!("{error:?}"),
            r#"Error("config key `x` must be a number")"#
        );
    }
}
