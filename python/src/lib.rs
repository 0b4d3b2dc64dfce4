//! `billrun` for Python: `billrun.run(...)` mirrors `billrun run`; the work happens
//! in Rust with the GIL released; a fatal error is a `billrun.BillrunError` carrying
//! billrun's message.

use clap::Parser;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

create_exception!(_billrun, BillrunError, PyException);

/// Runs `billrun run ARGS...` and returns its exit code (0: every row priced; 1:
/// reports written, some rows rejected). Raises `ValueError` for arguments `billrun
/// run` would refuse, `BillrunError` for a fatal error (exit 2).
#[pyfunction]
fn run_args(py: Python<'_>, args: Vec<String>) -> PyResult<i32> {
    let argv = ["billrun".to_string(), "run".to_string()]
        .into_iter()
        .chain(args);
    let cli = billrun::cli::Cli::try_parse_from(argv)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let billrun::cli::Command::Run(args) = cli.command else {
        return Err(PyValueError::new_err("not a run command"));
    };
    py.detach(move || billrun::run_command(*args))
        .map_err(|e| BillrunError::new_err(e.to_string()))
}

/// Runs `billrun ARGS...` for any command (`map`, `reduce`, `merge`, `run`, ...)
/// and returns its exit code; errors as for `run_args`.
#[pyfunction]
fn main_args(py: Python<'_>, args: Vec<String>) -> PyResult<i32> {
    let argv = std::iter::once("billrun".to_string()).chain(args);
    let cli = billrun::cli::Cli::try_parse_from(argv)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.detach(move || billrun::dispatch(cli))
        .map_err(|e| BillrunError::new_err(e.to_string()))
}

#[pymodule]
fn _billrun(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_args, m)?)?;
    m.add_function(wrap_pyfunction!(main_args, m)?)?;
    m.add("BillrunError", m.py().get_type::<BillrunError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
