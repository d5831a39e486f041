//! The envelope every answer shares: a JSON object holding the array of entries
//! or rows under a known key (`stats`, `protocol`, ...), or OneFS' `errors` list
//! instead. Elements are handed one by one to a [`Elements`] reader as the parser
//! reaches them, so no answer is ever held whole in any form but its bytes.

use serde::de::{IgnoredAny, MapAccess, SeqAccess};
use serde_json::Value as Json;

use super::json::{self, Expect, Scalar, Shape, Text};
use super::DecodeError;

/// Reads the elements of the envelope's array.
pub(super) trait Elements<'de> {
    /// Forgets what was read: the array's key came again, and the last one wins.
    fn reset(&mut self);

    /// Reads the next element; `false` after the last.
    fn next<A: SeqAccess<'de>>(&mut self, seq: &mut A) -> Result<bool, A::Error>;
}

/// Reads a whole answer, handing the elements of its `array` key to `elements`;
/// an error when the body is not JSON or not such an answer as a whole.
pub(super) fn read<'de, E: Elements<'de>>(
    body: &'de [u8],
    array: &'static str,
    elements: E,
) -> Result<(), DecodeError> {
    json::read_body(body, Expect(Envelope { array, elements }))
        .map_err(|e| DecodeError::NotJson(e.to_string()))?
        .check(array)
}

/// An answer's envelope: the `array` key's elements go to `elements`.
struct Envelope<E> {
    array: &'static str,
    elements: E,
}

/// What the envelope held.
enum Outcome {
    Object {
        errors: Option<Json>,
        found: bool,
    },
    /// The body is not an object; its kind.
    Other(&'static str),
}

impl<'de, E: Elements<'de>> Shape<'de> for Envelope<E> {
    type Out = Outcome;

    fn object<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Outcome, A::Error> {
        let mut errors = None;
        let mut found = false;
        while let Some(Text(key)) = map.next_key::<Text>()? {
            if key == "errors" {
                errors = Some(map.next_value::<Json>()?);
            } else if key == self.array {
                self.elements.reset();
                found = map.next_value_seed(Expect(Array(&mut self.elements)))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Outcome::Object { errors, found })
    }

    fn other(self, value: Scalar<'de>) -> Outcome {
        Outcome::Other(value.kind())
    }
}

impl Outcome {
    /// Whether the answer was usable as a whole: an object with the `array`
    /// key's array and no `errors`.
    fn check(self, array: &str) -> Result<(), DecodeError> {
        match self {
            Outcome::Other(kind) => Err(DecodeError::Shape(format!(
                "answer is {kind}, not a json object"
            ))),
            Outcome::Object {
                errors: Some(errors),
                ..
            } => Err(DecodeError::Shape(format!(
                "onefs answered with errors: {}",
                error_messages(&errors)
            ))),
            Outcome::Object { found: false, .. } => {
                Err(DecodeError::Shape(format!("answer has no {array:?} array")))
            }
            Outcome::Object { found: true, .. } => Ok(()),
        }
    }
}

/// The envelope's array: `true` when it was one.
struct Array<'e, E>(&'e mut E);

impl<'de, E: Elements<'de>> Shape<'de> for Array<'_, E> {
    type Out = bool;

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while self.0.next(&mut seq)? {}
        Ok(true)
    }

    fn other(self, _value: Scalar<'de>) -> bool {
        false
    }
}

/// OneFS' `errors` list as `message (code); ...`.
fn error_messages(errors: &Json) -> String {
    let Some(list) = errors.as_array().filter(|l| !l.is_empty()) else {
        return errors.to_string();
    };
    list.iter()
        .map(|e| {
            let message = e.get("message").and_then(Json::as_str);
            let code = e.get("code").and_then(Json::as_str);
            match (message, code) {
                (Some(m), Some(c)) => format!("{m} ({c})"),
                (Some(m), None) => m.to_string(),
                _ => e.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
