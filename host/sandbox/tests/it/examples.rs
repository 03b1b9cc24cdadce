//! Example modules in the sandbox.
