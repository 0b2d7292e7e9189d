//! The `wso2_enum!` macro behind every closed set of WSO2 strings in the model (API status,
//! subscription status, key type, …), and [`UnknownValue`], the error for a string outside
//! such a set. Each generated enum serializes to, displays as and parses from exactly the
//! string WSO2 stores in its database and sends on the wire.

use std::fmt;

/// A string that names none of the values of a WSO2 enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value {value:?}")]
pub struct UnknownValue {
    /// The enumeration, e.g. `ApiStatus`.
    pub kind: &'static str,
    /// The string that was given.
    pub value: String,
}

impl UnknownValue {
    /// The error for `value`, which is no `kind`.
    pub fn new(kind: &'static str, value: impl fmt::Display) -> Self {
        Self {
            kind,
            value: value.to_string(),
        }
    }
}

/// Declares an enum whose variants are WSO2 strings: serde renames, `as_str`, `ALL`,
/// `Display` and `FromStr` all agree on one table written once.
macro_rules! wso2_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The WSO2 string for this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownValue::new(stringify!($name), s)),
                }
            }
        }
    };
}

pub(crate) use wso2_enum;

#[cfg(test)]
mod tests {
    use super::UnknownValue;

    wso2_enum! {
        /// A test enumeration.
        enum Colour {
            Red => "RED",
            LightBlue => "Light_Blue",
        }
    }

    #[test]
    fn strings_round_trip_through_every_form() {
        for colour in Colour::ALL {
            let text = colour.as_str();
            assert_eq!(text.parse::<Colour>(), Ok(*colour));
            assert_eq!(colour.to_string(), text);
            assert_eq!(
                serde_json::to_string(colour).unwrap(),
                format!("\"{text}\"")
            );
            let back: Colour = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert_eq!(back, *colour);
        }
        assert_eq!(Colour::LightBlue.as_str(), "Light_Blue");
    }

    #[test]
    fn unknown_strings_are_rejected_with_the_kind() {
        let err = "red".parse::<Colour>().unwrap_err();
        assert_eq!(err, UnknownValue::new("Colour", "red"));
        assert_eq!(err.to_string(), "unknown Colour value \"red\"");
        assert!(serde_json::from_str::<Colour>("\"GREEN\"").is_err());
    }
}
