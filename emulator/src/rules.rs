//! Scalekit's request rules, as data: every field of every request message the emulator serves, with its
//! type and its `buf.validate` rules, copied from the protos inside Scalekit's Python SDK 2.21.0
//! (`proto-evidence/*.python-2.21.0.txt`). The emulator refuses what these rules refuse (in the emulator's `validate` module);
//! `emulator/tests/proto_rules.rs` renders each field back into the dump's own syntax and compares it with the dump,
//! so a rule missing here, or changed there, fails the build instead of the first real user.
//!
//! ```
//! use tokenbroker_emulator::rules::{message, Rule};
//!
//! let create = message("CreateConnectedAccountRequest").unwrap();
//! let field = create.field("connected_account").unwrap();
//! assert_eq!(field.rules, &[Rule::Required]);
//! assert_eq!(field.validate_text().as_deref(), Some("{ required: true }"));
//! ```

/// Which dump a message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `scalekit/v1/connected_accounts/connected_accounts.proto` (`connected_accounts.proto.python-2.21.0.txt`).
    ConnectedAccounts,
    /// `scalekit/v1/connections/connections.proto` (`connections.proto.python-2.21.0.txt`).
    Connections,
}

impl Proto {
    /// The dump's file name under `proto-evidence/`.
    pub fn dump(self) -> &'static str {
        match self {
            Self::ConnectedAccounts => "connected_accounts.proto.python-2.21.0.txt",
            Self::Connections => "connections.proto.python-2.21.0.txt",
        }
    }
}

/// A request message: its fields and its message-level (CEL) rules.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    /// The message name, such as `CreateConnectedAccountRequest`.
    pub name: &'static str,
    /// The dump it is in.
    pub proto: Proto,
    /// Every field, in the proto's order.
    pub fields: &'static [Field],
    /// The ids of its `buf.validate.message` CEL rules (each implemented in the emulator's `validate` module).
    pub cel: &'static [&'static str],
}

impl Message {
    /// The field of this name.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A field: name, number, type and rules.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The proto name (snake_case); protojson also accepts its lowerCamelCase JSON name.
    pub name: &'static str,
    /// The field number.
    pub number: u32,
    /// Its type.
    pub ty: Type,
    /// Its `buf.validate.field` rules, in the order the dump prints them.
    pub rules: &'static [Rule],
}

/// A field's type, as far as JSON decoding and validation need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `string`
    String,
    /// `uint32`
    Uint32,
    /// `bool`
    Bool,
    /// `repeated string`
    RepeatedString,
    /// A message, by its full name (such as `.google.protobuf.Struct`).
    Message(&'static str),
}

/// One `buf.validate` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `required: true`: the field must be set.
    Required,
    /// `string.min_len`, in characters.
    MinLen(u64),
    /// `string.max_len`, in characters.
    MaxLen(u64),
    /// `string.pattern` (RE2 syntax).
    Pattern(&'static str),
    /// `string.prefix`.
    Prefix(&'static str),
    /// `uint32.lt`.
    Lt(u64),
    /// `uint32.lte`.
    Lte(u64),
    /// `uint32.gte`.
    Gte(u64),
    /// `repeated.max_items`.
    MaxItems(u64),
    /// `repeated.items`: the rules of each item (string rules).
    Items(&'static [Rule]),
}

impl Field {
    /// The field's type as the dump writes it: `string`, `repeated string`, `.google.protobuf.Struct`.
    pub fn type_text(&self) -> String {
        match self.ty {
            Type::String => "string".into(),
            Type::Uint32 => "uint32".into(),
            Type::Bool => "bool".into(),
            Type::RepeatedString => "repeated string".into(),
            Type::Message(name) => name.into(),
        }
    }

    /// The rules as the dump writes them after `[buf.validate.field] `, or `None` when there are none.
    pub fn validate_text(&self) -> Option<String> {
        if self.rules.is_empty() {
            return None;
        }
        let scalar: Vec<Rule> = self
            .rules
            .iter()
            .copied()
            .filter(|r| !matches!(r, Rule::Required | Rule::MaxItems(_) | Rule::Items(_)))
            .collect();
        let mut parts = Vec::new();
        if !scalar.is_empty() {
            let kind = if self.ty == Type::Uint32 {
                "uint32"
            } else {
                "string"
            };
            parts.push(format!("{kind} {{ {} }}", render(&scalar)));
        }
        let repeated: Vec<Rule> = self
            .rules
            .iter()
            .copied()
            .filter(|r| matches!(r, Rule::MaxItems(_) | Rule::Items(_)))
            .collect();
        if !repeated.is_empty() {
            parts.push(format!("repeated {{ {} }}", render(&repeated)));
        }
        if self.rules.contains(&Rule::Required) {
            parts.push("required: true".into());
        }
        Some(format!("{{ {} }}", parts.join(" ")))
    }
}

fn render(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(|rule| match rule {
            Rule::Required => "required: true".to_owned(),
            Rule::MinLen(n) => format!("min_len: {n}"),
            Rule::MaxLen(n) => format!("max_len: {n}"),
            Rule::Pattern(p) => format!("pattern: {p:?}"),
            Rule::Prefix(p) => format!("prefix: {p:?}"),
            Rule::Lt(n) => format!("lt: {n}"),
            Rule::Lte(n) => format!("lte: {n}"),
            Rule::Gte(n) => format!("gte: {n}"),
            Rule::MaxItems(n) => format!("max_items: {n}"),
            Rule::Items(inner) => format!("items {{ string {{ {} }} }}", render(inner)),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The message of this name.
pub fn message(name: &str) -> Option<&'static Message> {
    MESSAGES.iter().find(|m| m.name == name)
}

const CONNECTOR_PATTERN: &str = "^[a-zA-Z0-9_: -]*$";

const fn string(name: &'static str, number: u32, rules: &'static [Rule]) -> Field {
    Field {
        name,
        number,
        ty: Type::String,
        rules,
    }
}

const ORGANIZATION_ID: Field = string("organization_id", 1, &[Rule::MinLen(0), Rule::MaxLen(32)]);
const USER_ID: Field = string("user_id", 2, &[Rule::MinLen(0), Rule::MaxLen(32)]);
const CONNECTOR: Field = string(
    "connector",
    3,
    &[
        Rule::MinLen(0),
        Rule::MaxLen(400),
        Rule::Pattern(CONNECTOR_PATTERN),
    ],
);
const IDENTIFIER: Field = string("identifier", 4, &[Rule::MinLen(0), Rule::MaxLen(100)]);
const ACCOUNT_ID: Field = string(
    "id",
    5,
    &[Rule::MinLen(0), Rule::MaxLen(32), Rule::Prefix("ca_")],
);

/// Every request message the emulator serves, with its rules.
pub const MESSAGES: &[Message] = &[
    // GET /api/v1/connected_accounts/auth and /details.
    Message {
        name: "GetConnectedAccountByIdentifierRequest",
        proto: Proto::ConnectedAccounts,
        fields: &[ORGANIZATION_ID, USER_ID, CONNECTOR, IDENTIFIER, ACCOUNT_ID],
        cel: &[],
    },
    // POST /api/v1/connected_accounts.
    Message {
        name: "CreateConnectedAccountRequest",
        proto: Proto::ConnectedAccounts,
        fields: &[
            ORGANIZATION_ID,
            USER_ID,
            CONNECTOR,
            IDENTIFIER,
            Field {
                name: "connected_account",
                number: 5,
                ty: Type::Message(".scalekit.v1.connected_accounts.CreateConnectedAccount"),
                rules: &[Rule::Required],
            },
        ],
        cel: &[],
    },
    // The `connected_account` of a create.
    Message {
        name: "CreateConnectedAccount",
        proto: Proto::ConnectedAccounts,
        fields: &[
            Field {
                name: "authorization_details",
                number: 5,
                ty: Type::Message(".scalekit.v1.connected_accounts.AuthorizationDetails"),
                rules: &[],
            },
            Field {
                name: "api_config",
                number: 11,
                ty: Type::Message(".google.protobuf.Struct"),
                rules: &[],
            },
        ],
        cel: &[],
    },
    // POST /api/v1/connected_accounts/magic_link.
    Message {
        name: "GetMagicLinkForConnectedAccountRequest",
        proto: Proto::ConnectedAccounts,
        fields: &[
            ORGANIZATION_ID,
            USER_ID,
            CONNECTOR,
            IDENTIFIER,
            ACCOUNT_ID,
            string("state", 7, &[Rule::MinLen(0), Rule::MaxLen(512)]),
            string(
                "user_verify_url",
                8,
                &[
                    Rule::MinLen(0),
                    Rule::MaxLen(2048),
                    Rule::Pattern("^$|^https?://"),
                ],
            ),
        ],
        cel: &[],
    },
    // POST /api/v1/connected_accounts:delete.
    Message {
        name: "DeleteConnectedAccountRequest",
        proto: Proto::ConnectedAccounts,
        fields: &[ORGANIZATION_ID, USER_ID, CONNECTOR, IDENTIFIER, ACCOUNT_ID],
        cel: &[],
    },
    // POST /api/v1/connected_accounts/user/verify.
    Message {
        name: "VerifyConnectedAccountUserRequest",
        proto: Proto::ConnectedAccounts,
        fields: &[
            string("auth_request_id", 1, &[Rule::MinLen(1), Rule::MaxLen(1000)]),
            string("identifier", 2, &[Rule::MinLen(1), Rule::MaxLen(200)]),
        ],
        cel: &[],
    },
    // GET /api/v1/connected_accounts (the emulator serves it; the client does not list).
    Message {
        name: "ListConnectedAccountsRequest",
        proto: Proto::ConnectedAccounts,
        fields: &[
            ORGANIZATION_ID,
            USER_ID,
            CONNECTOR,
            IDENTIFIER,
            string("provider", 5, &[Rule::MinLen(0), Rule::MaxLen(50)]),
            Field {
                name: "page_size",
                number: 6,
                ty: Type::Uint32,
                rules: &[Rule::Lt(100), Rule::Gte(0)],
            },
            string("page_token", 7, &[Rule::MinLen(0), Rule::MaxLen(100)]),
            string("query", 8, &[Rule::MinLen(0), Rule::MaxLen(100)]),
            Field {
                name: "connection_names",
                number: 9,
                ty: Type::RepeatedString,
                rules: &[
                    Rule::MaxItems(20),
                    Rule::Items(&[
                        Rule::MinLen(1),
                        Rule::MaxLen(400),
                        Rule::Pattern(CONNECTOR_PATTERN),
                    ]),
                ],
            },
            Field {
                name: "is_org_wide_credential",
                number: 10,
                ty: Type::Bool,
                rules: &[],
            },
        ],
        cel: &["connector_or_connection_names_not_both"],
    },
    // GET /api/v1/connections/app.
    Message {
        name: "ListAppConnectionsRequest",
        proto: Proto::Connections,
        fields: &[
            Field {
                name: "page_size",
                number: 1,
                ty: Type::Uint32,
                rules: &[Rule::Lte(30)],
            },
            string("page_token", 2, &[]),
            string("provider", 3, &[Rule::MinLen(1), Rule::MaxLen(50)]),
            string("query", 4, &[Rule::MinLen(3), Rule::MaxLen(100)]),
        ],
        cel: &[],
    },
];
