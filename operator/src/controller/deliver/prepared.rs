//! A message to a partner once prepared: sealed for the outbox, with what it changes in
//! the holdings and the ledger entries committed with it.

use crate::catalogue::Area;
use crate::controller::push::Queued;
use crate::delivery::Projected;
use crate::delivery::sync::RecordDigest;
use crate::delivery::wire::DeletionNotice;
use crate::ledger::EntryBody;
use crate::state::{HoldingChange, NewMessage, Pending};

/// A message sealed and ready to commit.
pub(super) struct Prepared {
    /// Its idempotency key.
    pub(super) batch: String,
    pub(super) content: Content,
    /// For a deletion notice, the people it concerns.
    pub(super) subjects: Vec<String>,
    /// The body as sent, and sealed as kept in the outbox.
    pub(super) body: Vec<u8>,
    pub(super) sealed: Vec<u8>,
    pub(super) ledger: Vec<EntryBody>,
}

/// What a prepared message carries, as the holdings need it.
pub(super) enum Content {
    Records {
        area: Area,
        fields: Vec<String>,
        records: Vec<Projected>,
        /// The digest of each record, in order.
        digests: Vec<RecordDigest>,
    },
    Deletion(DeletionNotice),
}

impl Content {
    /// The outbox's kind of message, and how many records or deletions it carries.
    fn kind(&self) -> (&'static str, u64) {
        match self {
            Content::Records { records, .. } => ("records", records.len() as u64),
            Content::Deletion(notice) => ("deletion", notice.deletions.len() as u64),
        }
    }
}

impl Prepared {
    /// How the message changes what the partner holds.
    pub(super) fn changes(&self) -> Vec<HoldingChange<'_>> {
        match &self.content {
            Content::Records {
                area,
                fields,
                records,
                digests,
            } => vec![HoldingChange::Upsert {
                area: *area,
                fields,
                records: records
                    .iter()
                    .zip(digests)
                    .map(|(r, digest)| (r.id(), r.subject(), *digest))
                    .collect(),
            }],
            Content::Deletion(notice) => notice
                .deletions
                .iter()
                .map(|d| match (&d.sourced_ids, &d.fields) {
                    (Some(ids), _) => HoldingChange::DeleteRecords { area: d.area, ids },
                    (None, Some(fields)) => HoldingChange::DeleteFields {
                        area: d.area,
                        fields,
                    },
                    (None, None) => HoldingChange::DeleteArea { area: d.area },
                })
                .collect(),
        }
    }

    /// The message as the pusher takes it, with its body in hand.
    pub(super) fn queued(self, context: &LedgerContext) -> Queued {
        let (kind, records) = self.content.kind();
        Queued {
            head: Pending {
                // Its place in the outbox is not needed to send it: this pass hands
                // messages on in the order it commits them.
                id: 0,
                batch: self.batch,
                partner: context.partner.clone(),
                agreement: context.agreement.clone(),
                school: context.school.clone(),
                kind: kind.to_owned(),
                mode: context.mode.to_owned(),
                sealed: Vec::new(),
                records,
                subjects: self.subjects,
                created_at: context.created_at,
                attempts: 0,
                last_error: None,
                refused: false,
            },
            body: Some(self.body),
        }
    }

    pub(super) fn row<'a>(
        &'a self,
        context: &'a LedgerContext,
        changes: &'a [HoldingChange<'a>],
    ) -> NewMessage<'a> {
        let (kind, records) = self.content.kind();
        NewMessage {
            batch: &self.batch,
            partner: &context.partner,
            agreement: &context.agreement,
            school: &context.school,
            kind,
            mode: context.mode,
            sealed: &self.sealed,
            records,
            subjects: &self.subjects,
            created_at: context.created_at,
            changes,
        }
    }
}

/// The parts of a ledger entry shared by every entry of one agreement at one school.
pub(super) struct LedgerContext {
    pub(super) at: String,
    pub(super) school: String,
    pub(super) agreement: String,
    pub(super) partner: String,
    pub(super) partner_location: String,
    /// `push`, or `pull` for notices the partner collects.
    pub(super) mode: &'static str,
    /// Unix seconds.
    pub(super) created_at: i64,
}

impl LedgerContext {
    pub(super) fn body(&self) -> EntryBody {
        EntryBody {
            at: self.at.clone(),
            school: self.school.clone(),
            agreement: self.agreement.clone(),
            partner: self.partner.clone(),
            partner_location: self.partner_location.clone(),
            ..EntryBody::default()
        }
    }
}
