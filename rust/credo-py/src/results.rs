//! Results cross the boundary as frozen classes with named, documented, read-only fields, never
//! as positional tuples. [`result_class!`] declares one next to the binding that returns it: the
//! struct, a getter per field (its doc comment becomes the attribute's docstring) and a repr.
//! Arrays are NumPy arrays made once, when the result is built.

macro_rules! result_class {
    ($(#[doc = $doc:expr])* $name:ident { $($(#[doc = $fdoc:expr])* $field:ident: $ty:ty),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[pyo3::pyclass(frozen, get_all, module = "credo._credo")]
        pub struct $name {
            $($(#[doc = $fdoc])* pub $field: $ty),+
        }

        #[pyo3::pymethods]
        impl $name {
            fn __repr__(&self, py: pyo3::Python<'_>) -> pyo3::PyResult<String> {
                use pyo3::types::PyAnyMethods;
                use pyo3::IntoPyObjectExt;
                let fields = [$(format!(
                    "{}={}",
                    stringify!($field),
                    (&self.$field).into_bound_py_any(py)?.repr()?
                )),+];
                Ok(format!("{}({})", stringify!($name), fields.join(", ")))
            }
        }
    };
}
