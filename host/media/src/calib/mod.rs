//! Camera calibration files: parsers that take text and name the source, line and field
//! of anything malformed.

pub mod middlebury;
pub mod opencv;

/// A calibration file that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}:{line}: {field}: {problem}")]
pub struct CalibError {
    /// The file (or other source) the text came from.
    pub source_name: String,
    /// The 1-based line number.
    pub line: usize,
    /// The field that is wrong.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl CalibError {
    pub(crate) fn new(
        source: &str,
        line: usize,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        CalibError {
            source_name: source.to_string(),
            line,
            field: field.into(),
            problem: problem.into(),
        }
    }
}
