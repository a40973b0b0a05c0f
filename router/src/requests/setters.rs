//! Setter macros shared by the builders: expression placeholders, return options and the
//! plain one-field setters.
//!
//! Invariant: each generated setter writes exactly one field of `self.request`.
//! Does not hold any state of its own.

/// `expression_attribute_name(s)` for a builder whose request has the names map.
macro_rules! name_setters {
    () => {
        /// Adds one `ExpressionAttributeNames` entry (`#placeholder` → attribute name).
        pub fn expression_attribute_name(
            mut self,
            placeholder: impl Into<String>,
            name: impl Into<String>,
        ) -> Self {
            self.request
                .expression_attribute_names
                .get_or_insert_with(Default::default)
                .insert(placeholder.into(), name.into());
            self
        }

        /// Sets the whole `ExpressionAttributeNames` map.
        pub fn expression_attribute_names(
            mut self,
            names: shoal_wire::message::ExpressionAttributeNames,
        ) -> Self {
            self.request.expression_attribute_names = Some(names);
            self
        }
    };
}

/// `expression_attribute_value(s)` for a builder whose request has the values map.
macro_rules! value_setters {
    () => {
        /// Adds one `ExpressionAttributeValues` entry (`:placeholder` → value).
        pub fn expression_attribute_value(
            mut self,
            placeholder: impl Into<String>,
            value: impl crate::value::IntoAttributeValue,
        ) -> Self {
            self.request
                .expression_attribute_values
                .get_or_insert_with(Default::default)
                .insert(placeholder.into(), value.into_attribute_value());
            self
        }

        /// Sets the whole `ExpressionAttributeValues` map.
        pub fn expression_attribute_values(
            mut self,
            values: shoal_wire::message::ExpressionAttributeValues,
        ) -> Self {
            self.request.expression_attribute_values = Some(values);
            self
        }
    };
}

/// Setters that store their argument (converted with `Into`) in an optional field.
macro_rules! option_setters {
    ($( $(#[$doc:meta])* $name:ident : $t:ty ),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<$t>) -> Self {
            self.request.$name = Some(value.into());
            self
        }
    )*};
}

/// `key(name, value)` and `key_item(item)` for a builder whose request has a `key`.
macro_rules! key_setters {
    () => {
        /// Adds one key attribute (partition key, then sort key if the table has one).
        pub fn key(
            mut self,
            name: impl Into<String>,
            value: impl crate::value::IntoAttributeValue,
        ) -> Self {
            self.request
                .key
                .insert(name.into(), value.into_attribute_value());
            self
        }

        /// Sets the whole key.
        pub fn key_item(mut self, key: shoal_wire::Item) -> Self {
            self.request.key = key;
            self
        }
    };
}

/// `request()` and `into_request()` for every builder.
macro_rules! request_access {
    ($t:ty) => {
        /// The request as it will be sent.
        pub fn request(&self) -> &$t {
            &self.request
        }

        /// The request, consuming the builder.
        pub fn into_request(self) -> $t {
            self.request
        }

        /// Replaces the whole request (the HTTP gateway builds requests from JSON).
        pub fn set_request(mut self, request: $t) -> Self {
            self.request = request;
            self
        }
    };
}
