//! Options chosen by name (`strategy="quantile"`, `norm="l2"`, ...). Each option's names are
//! written once, in a [`choices!`](crate::choices) table next to its enum; the table gives the
//! enum `FromStr` (an `InvalidArgument` error naming the argument and listing the allowed
//! values), its canonical name, and what the bindings need to take it as a typed parameter.

use crate::error::{CredoError, Result};

/// An enum whose values are chosen by name.
pub trait Choice: Sized + Copy + PartialEq + 'static {
    /// The argument users set the option with (named by every error).
    const ARG: &'static str;
    /// Each value and its name, in the order errors list them.
    const NAMES: &'static [(&'static str, Self)];
    /// Further spellings accepted but not listed (British spellings, old names).
    const ALIASES: &'static [(&'static str, Self)] = &[];

    /// The canonical name of a value.
    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, v)| *v == self).map_or("?", |(n, _)| n)
    }
}

/// The value named `s`, or an error naming `arg` (the argument the caller exposes this option
/// as, usually [`Choice::ARG`]).
pub fn parse_as<T: Choice>(s: &str, arg: &str) -> Result<T> {
    T::NAMES
        .iter()
        .chain(T::ALIASES)
        .find(|(n, _)| *n == s)
        .map(|&(_, v)| v)
        .ok_or_else(|| refuse::<T>(arg, &format!("'{s}'")))
}

/// The error for an option value that names none of `T`'s values; `shown` is how the value is
/// printed (quoted text, or a foreign object's repr).
pub fn refuse<T: Choice>(arg: &str, shown: &str) -> CredoError {
    let listed: Vec<String> = T::NAMES.iter().map(|(n, _)| format!("'{n}'")).collect();
    CredoError::invalid(arg, format!("must be one of {}, got {shown}", listed.join(", ")))
}

/// Implements [`Choice`] and `FromStr` for an option enum from its table of names:
///
/// ```ignore
/// choices!(Strategy, "strategy", { "uniform" => Strategy::Uniform, "quantile" => Strategy::Quantile });
/// ```
#[macro_export]
macro_rules! choices {
    ($ty:ty, $arg:literal, { $($name:literal => $val:expr),+ $(,)? } $(, aliases { $($alias:literal => $aval:expr),+ $(,)? })?) => {
        impl $crate::choice::Choice for $ty {
            const ARG: &'static str = $arg;
            const NAMES: &'static [(&'static str, Self)] = &[$(($name, $val)),+];
            $(const ALIASES: &'static [(&'static str, Self)] = &[$(($alias, $aval)),+];)?
        }
        impl ::core::str::FromStr for $ty {
            type Err = $crate::CredoError;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $crate::choice::parse_as(s, $arg)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Colour {
        Red,
        Grey,
    }
    crate::choices!(Colour, "colour", { "red" => Colour::Red, "grey" => Colour::Grey }, aliases { "gray" => Colour::Grey });

    #[test]
    fn names_parse_and_errors_list_the_allowed_values() {
        assert_eq!("red".parse::<Colour>().unwrap(), Colour::Red);
        assert_eq!("gray".parse::<Colour>().unwrap(), Colour::Grey);
        assert_eq!(Colour::Grey.name(), "grey");
        let e = "blue".parse::<Colour>().unwrap_err();
        assert_eq!(e.to_string(), "colour: must be one of 'red', 'grey', got 'blue'");
        assert!(matches!(e, CredoError::InvalidArgument { .. }));
        let e = parse_as::<Colour>("blue", "paint").unwrap_err();
        assert!(e.to_string().starts_with("paint: must be one of"));
    }
}
