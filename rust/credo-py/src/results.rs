//! Results cross the boundary as frozen classes with named, documented, read-only fields, never
//! as positional tuples or dicts. [`result_class!`] declares one next to the binding that returns
//! it: the struct, a getter per field (its doc comment becomes the attribute's docstring) and a
//! repr, and `_fields`, the field names in order. Arrays are NumPy arrays made once, when the
//! result is built.
//!
//! A class that mirrors a core struct field for field is declared `Name from core::Struct { .. }`:
//! its `from_core` moves each core field into the class's through [`IntoField`] (vectors become
//! NumPy arrays, code enums their codes, anything else as it is), so each field is named once.

use numpy::{Element, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat};

macro_rules! result_class {
    ($(#[doc = $doc:expr])* $name:ident from $core:path { $($(#[doc = $fdoc:expr])* $field:ident: $ty:ty),+ $(,)? }) => {
        result_class! { $(#[doc = $doc])* $name { $($(#[doc = $fdoc])* $field: $ty),+ } }

        impl $name {
            /// The core's result, field by field.
            pub fn from_core(py: pyo3::Python<'_>, c: $core) -> pyo3::PyResult<Self> {
                Ok(Self { $($field: $crate::results::IntoField::<$ty>::into_field(c.$field, py)?),+ })
            }
        }
    };
    ($(#[doc = $doc:expr])* $name:ident { $($(#[doc = $fdoc:expr])* $field:ident: $ty:ty),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[pyo3::pyclass(frozen, get_all, module = "credo._credo")]
        pub struct $name {
            $($(#[doc = $fdoc])* pub $field: $ty),+
        }

        #[pyo3::pymethods]
        impl $name {
            /// The field names, in order (as a named tuple's).
            #[classattr]
            #[allow(non_snake_case)]
            fn _fields() -> Vec<&'static str> {
                vec![$(stringify!($field)),+]
            }

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

/// A core field as its result class holds it.
pub trait IntoField<Out> {
    fn into_field(self, py: Python<'_>) -> PyResult<Out>;
}

impl<T> IntoField<T> for T {
    fn into_field(self, _: Python<'_>) -> PyResult<T> {
        Ok(self)
    }
}

impl<T: Element> IntoField<Py<PyArray1<T>>> for Vec<T> {
    fn into_field(self, py: Python<'_>) -> PyResult<Py<PyArray1<T>>> {
        Ok(PyArray1::from_vec(py, self).unbind())
    }
}

impl<T: Element> IntoField<Option<Py<PyArray1<T>>>> for Option<Vec<T>> {
    fn into_field(self, py: Python<'_>) -> PyResult<Option<Py<PyArray1<T>>>> {
        Ok(self.map(|v| PyArray1::from_vec(py, v).unbind()))
    }
}

/// Scalars held as Python objects (read as struct members, not through a getter call).
impl IntoField<Py<PyFloat>> for f64 {
    fn into_field(self, py: Python<'_>) -> PyResult<Py<PyFloat>> {
        Ok(PyFloat::new(py, self).unbind())
    }
}

impl IntoField<Py<PyBool>> for bool {
    fn into_field(self, py: Python<'_>) -> PyResult<Py<PyBool>> {
        Ok(PyBool::new(py, self).to_owned().unbind())
    }
}
