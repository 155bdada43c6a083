//! The GraphQL front: parses a request with `graphql-parser`, picks the operation, resolves
//! variables (with their defaults), fragments, `@skip`/`@include` and aliases, validates the
//! selection against the schema in [`schema`], then executes it over one read snapshot.
//!
//! Only queries are answered (no mutations, no subscriptions, no introspection beyond
//! `__typename`). The answer has exactly the selected fields, in the order they were selected.
//! Must never recurse without a bound: brackets nest at most [`NESTING_MAX`] deep before the
//! parser sees the text, and fragment spreads at most [`FRAGMENT_DEPTH_MAX`].

mod output;
pub mod schema;

use std::collections::HashMap;

use graphql_parser::query::{
    Definition, Document, Field, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
    Type, Value,
};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub use output::Out;

use crate::store::{Reader, StoreError};

/// Deepest nesting of brackets in a query text.
pub const NESTING_MAX: usize = 64;
/// Deepest chain of fragment spreads.
pub const FRAGMENT_DEPTH_MAX: usize = 16;

/// A GraphQL POST body.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphqlRequest {
    pub query: String,
    #[serde(default)]
    pub variables: Option<Json>,
    #[serde(default, rename = "operationName")]
    pub operation_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphqlError {
    #[error("Syntax Error: {0}")]
    Parse(String),
    #[error("{0}")]
    Invalid(String),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

fn invalid(message: impl Into<String>) -> GraphqlError {
    GraphqlError::Invalid(message.into())
}

type Doc<'d> = Document<'d, String>;
type Set<'d> = SelectionSet<'d, String>;

/// A response key with every field selected under it (GraphQL merges same-key fields).
pub struct Collected<'d> {
    pub key: &'d str,
    pub field: &'d Field<'d, String>,
    pub sets: Vec<&'d Set<'d>>,
}

/// What every resolver needs: fragments and variable values.
pub struct Ctx<'d> {
    fragments: HashMap<&'d str, &'d FragmentDefinition<'d, String>>,
    variables: Map<String, Json>,
}

/// Executes `request` over `reader`'s snapshot; the `data` object on success.
pub fn execute(reader: &Reader, request: &GraphqlRequest) -> Result<Out, GraphqlError> {
    check_nesting(&request.query)?;
    let doc: Doc = graphql_parser::parse_query::<String>(&request.query)
        .map_err(|e| GraphqlError::Parse(e.to_string().trim().to_owned()))?;
    let (selection, definitions) = pick_operation(&doc, request.operation_name.as_deref())?;
    let mut fragments = HashMap::new();
    for def in &doc.definitions {
        if let Definition::Fragment(f) = def {
            fragments.insert(f.name.as_str(), f);
        }
    }
    let mut variables = match &request.variables {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(map)) => map.clone(),
        Some(_) => return Err(invalid("variables must be a JSON object")),
    };
    let mut ctx = Ctx {
        fragments,
        variables: Map::new(),
    };
    for def in definitions {
        if !variables.contains_key(&def.name) {
            match &def.default_value {
                Some(value) => {
                    let value = ctx.value(value)?;
                    variables.insert(def.name.clone(), value);
                }
                None if matches!(def.var_type, Type::NonNullType(_)) => {
                    return Err(invalid(format!(
                        "Variable \"${}\" of required type \"{}\" was not provided.",
                        def.name, def.var_type
                    )));
                }
                None => {}
            }
        }
    }
    ctx.variables = variables;
    let fields = ctx.collect(&[selection])?;
    schema::validate(&ctx, "Query", &fields)?;
    let mut data = Vec::with_capacity(fields.len());
    for field in &fields {
        data.push((field.key.to_owned(), schema::root(&ctx, reader, field)?));
    }
    Ok(Out::Obj(data))
}

type VariableDefinitions<'d> = &'d [graphql_parser::query::VariableDefinition<'d, String>];

fn pick_operation<'d>(
    doc: &'d Doc<'d>,
    name: Option<&str>,
) -> Result<(&'d Set<'d>, VariableDefinitions<'d>), GraphqlError> {
    let operations: Vec<&OperationDefinition<String>> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Operation(op) => Some(op),
            Definition::Fragment(_) => None,
        })
        .collect();
    let op_name = |op: &OperationDefinition<String>| -> Option<String> {
        match op {
            OperationDefinition::SelectionSet(_) => None,
            OperationDefinition::Query(q) => q.name.clone(),
            OperationDefinition::Mutation(m) => m.name.clone(),
            OperationDefinition::Subscription(s) => s.name.clone(),
        }
    };
    let op = match name {
        Some(name) => operations
            .iter()
            .find(|op| op_name(op).as_deref() == Some(name))
            .ok_or_else(|| invalid(format!("Unknown operation named \"{name}\".")))?,
        None if operations.len() == 1 => &operations[0],
        None if operations.is_empty() => return Err(invalid("The document has no operation.")),
        None => {
            return Err(invalid(
                "Must provide operation name if query contains multiple operations.",
            ));
        }
    };
    match op {
        OperationDefinition::SelectionSet(set) => Ok((set, &[])),
        OperationDefinition::Query(q) => Ok((&q.selection_set, &q.variable_definitions)),
        OperationDefinition::Mutation(_) | OperationDefinition::Subscription(_) => Err(invalid(
            "Only queries are supported: this gateway has no mutations or subscriptions.",
        )),
    }
}

impl<'d> Ctx<'d> {
    /// The fields selected by `sets`, fragments expanded, `@skip`/`@include` applied, and
    /// fields with the same response key merged.
    pub fn collect(&self, sets: &[&'d Set<'d>]) -> Result<Vec<Collected<'d>>, GraphqlError> {
        let mut out: Vec<Collected<'d>> = Vec::new();
        for set in sets {
            self.collect_into(set, &mut out, 0)?;
        }
        Ok(out)
    }

    fn collect_into(
        &self,
        set: &'d Set<'d>,
        out: &mut Vec<Collected<'d>>,
        depth: usize,
    ) -> Result<(), GraphqlError> {
        if depth > FRAGMENT_DEPTH_MAX {
            return Err(invalid(format!(
                "Fragments nest deeper than {FRAGMENT_DEPTH_MAX} levels (or spread themselves)."
            )));
        }
        for selection in &set.items {
            match selection {
                Selection::Field(field) => {
                    if !self.included(&field.directives)? {
                        continue;
                    }
                    let key = field.alias.as_deref().unwrap_or(&field.name);
                    match out.iter_mut().find(|c| c.key == key) {
                        Some(existing) => existing.sets.push(&field.selection_set),
                        None => out.push(Collected {
                            key,
                            field,
                            sets: vec![&field.selection_set],
                        }),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives)? {
                        continue;
                    }
                    let fragment = self
                        .fragments
                        .get(spread.fragment_name.as_str())
                        .ok_or_else(|| {
                            invalid(format!("Unknown fragment \"{}\".", spread.fragment_name))
                        })?;
                    self.collect_into(&fragment.selection_set, out, depth + 1)?;
                }
                Selection::InlineFragment(inline) => {
                    if self.included(&inline.directives)? {
                        self.collect_into(&inline.selection_set, out, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn included(
        &self,
        directives: &[graphql_parser::query::Directive<'d, String>],
    ) -> Result<bool, GraphqlError> {
        for directive in directives {
            let condition = || -> Result<bool, GraphqlError> {
                let arg = directive.arguments.iter().find(|(name, _)| name == "if");
                match arg.map(|(_, v)| self.value(v)).transpose()? {
                    Some(Json::Bool(b)) => Ok(b),
                    _ => Err(invalid(format!(
                        "Directive \"@{}\" needs a Boolean argument \"if\".",
                        directive.name
                    ))),
                }
            };
            match directive.name.as_str() {
                "skip" if condition()? => return Ok(false),
                "include" if !condition()? => return Ok(false),
                "skip" | "include" => {}
                other => return Err(invalid(format!("Unknown directive \"@{other}\"."))),
            }
        }
        Ok(true)
    }

    /// The field's arguments as JSON, variables substituted.
    pub fn args(&self, field: &Field<'d, String>) -> Result<Map<String, Json>, GraphqlError> {
        let mut out = Map::new();
        for (name, value) in &field.arguments {
            out.insert(name.clone(), self.value(value)?);
        }
        Ok(out)
    }

    /// A literal or variable as JSON; enum values become strings.
    fn value(&self, value: &Value<'d, String>) -> Result<Json, GraphqlError> {
        Ok(match value {
            Value::Variable(name) => self.variables.get(name).cloned().unwrap_or(Json::Null),
            Value::Int(n) => Json::from(n.as_i64().unwrap_or_default()),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::Boolean(b) => Json::Bool(*b),
            Value::Null => Json::Null,
            Value::Enum(e) => Json::String(e.clone()),
            Value::List(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.value(v)?)))
                    .collect::<Result<_, GraphqlError>>()?,
            ),
        })
    }
}

/// Refuses texts whose brackets nest deeper than [`NESTING_MAX`], outside string literals,
/// before the recursive-descent parser could exhaust its stack on them.
fn check_nesting(text: &str) -> Result<(), GraphqlError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' | '(' => {
                depth += 1;
                if depth > NESTING_MAX {
                    return Err(GraphqlError::Parse(format!(
                        "brackets nest deeper than {NESTING_MAX} levels"
                    )));
                }
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
