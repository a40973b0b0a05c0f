//! Declaration macros for wire types: one place that decides which traits every message,
//! schema and description type derives, and how its test samples are generated.
//!
//! Invariant: every type declared here is rkyv `Archive + Serialize + Deserialize` (with
//! bytecheck, through the workspace's pinned format), `Clone + Debug + PartialEq`, and in test
//! builds implements `sample::Sample`, so each message can be round-tripped by property tests.
//! Enum variants are either unit variants or carry exactly one value; name enums map each
//! variant to its DynamoDB string once.
//! Does not implement behaviour; modules add their own `impl` blocks.

/// Declares a struct with named, public fields as a wire type.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Clone, Debug, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        #[cfg(test)]
        impl crate::sample::Sample for $name {
            fn sample(g: &mut crate::sample::Gen) -> Self {
                let _ = &g;
                $name { $( $field: crate::sample::Sample::sample(g) ),* }
            }
        }
    };
}

/// Declares an enum whose variants are unit variants or carry one value, as a wire type.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident $( ( $ty:ty ) )? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Clone, Debug, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant $( ( $ty ) )? ),*
        }

        #[cfg(test)]
        impl crate::sample::Sample for $name {
            fn sample(g: &mut crate::sample::Gen) -> Self {
                type Make = fn(&mut crate::sample::Gen) -> $name;
                let makers: &[Make] = &[
                    $( |g| {
                        let _ = &g;
                        $name::$variant $( (<$ty as crate::sample::Sample>::sample(g)) )?
                    } ),*
                ];
                let index = g.below(makers.len());
                makers[index](g)
            }
        }
    };
}

/// Declares a field-less enum whose variants have DynamoDB string names
/// (`Provisioned = "PROVISIONED"`), with `as_str`, `parse`, `ALL` and `Display`.
macro_rules! wire_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[rkyv(derive(Debug, PartialEq, Eq, Clone, Copy))]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),* ];

            /// The DynamoDB name of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),*
                }
            }

            /// The value with this exact (case-sensitive) DynamoDB name.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(test)]
        impl crate::sample::Sample for $name {
            fn sample(g: &mut crate::sample::Gen) -> Self {
                $name::ALL[g.below($name::ALL.len())]
            }
        }
    };
}
