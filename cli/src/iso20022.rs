//! ISO 20022 messages, the subset a bank's back office exchanges with
//! Clearhouse: a customer credit transfer (`pacs.008.001.08`) in, and out a
//! payment status report (`pacs.002.001.10`) and a debit/credit
//! notification (`camt.054.001.08`).
//!
//! Mapping of a `pacs.008` credit transfer transaction (`CdtTrfTxInf`) to a
//! Clearhouse payment:
//!
//! | ISO 20022 element | Clearhouse |
//! |---|---|
//! | `PmtId/EndToEndId` | the payment's end-to-end id |
//! | `IntrBkSttlmAmt` and its `Ccy` | amount and asset (decimals of the asset) |
//! | `DbtrAcct/Id/Othr/Id` | the paying account (64 hex digits): the signer |
//! | `CdtrAcct/Id/Othr/Id` | the receiving account |
//! | `RmtInf/Ustrd` | remittance information (several are joined by a space) |
//! | `Dbtr/Nm`, `Cdtr/Nm`, `PmtId/InstrId`, `GrpHdr/MsgId` | kept for the reports, not on chain |
//!
//! Anything else in the message is read past. The reader is bounded (file
//! size, depth, element count) and namespace-agnostic (elements are matched
//! by local name, so a prefixed document reads the same).

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// Most bytes of a message the reader accepts.
pub const MESSAGE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Most element nesting.
const DEPTH_MAX: usize = 32;
/// Most attributes on one element (ISO 20022 elements carry one or two).
const ATTRIBUTES_MAX: usize = 16;
/// Most elements in one message.
const ELEMENTS_MAX: usize = 1_000_000;

/// Namespaces of the messages written and expected.
pub const PACS_008: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08";
/// See [`PACS_008`].
pub const PACS_002: &str = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10";
/// See [`PACS_008`].
pub const CAMT_054: &str = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08";

/// Why a message does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsoError {
    /// Not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// Over a bound.
    #[error("the message is too large: {0}")]
    TooLarge(&'static str),
    /// Not the expected message.
    #[error("not a {expected} message (the document holds {found})")]
    WrongMessage {
        /// The message expected.
        expected: &'static str,
        /// The root's first child.
        found: String,
    },
    /// A required element is missing or empty.
    #[error("{what}: missing {path}")]
    Missing {
        /// Where (e.g. `transaction 2`).
        what: String,
        /// The element path.
        path: &'static str,
    },
}

/// An element: its local name, attributes, text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (no prefix).
    pub name: String,
    /// Attributes by local name.
    pub attributes: Vec<(String, String)>,
    /// Its own text, trimmed.
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at a `/`-separated path below this one.
    pub fn at(&self, path: &str) -> Option<&Element> {
        path.split('/').try_fold(self, |e, name| e.child(name))
    }

    /// The non-empty text at `path`.
    pub fn text_at(&self, path: &str) -> Option<&str> {
        self.at(path)
            .map(|e| e.text.as_str())
            .filter(|t| !t.is_empty())
    }

    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, local)) => local.to_owned(),
        None => name.to_owned(),
    }
}

/// Reads a document into its root element, within the bounds.
pub fn parse(xml: &str) -> Result<Element, IsoError> {
    if xml.len() > MESSAGE_BYTES_MAX {
        return Err(IsoError::TooLarge("over 16 MiB"));
    }
    let xml_error = |e: &dyn std::fmt::Display| IsoError::Xml(e.to_string());
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut elements = 0usize;
    let mut root = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| IsoError::Xml(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(IsoError::Xml("content after the root element".into()));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                elements += 1;
                if elements > ELEMENTS_MAX {
                    return Err(IsoError::TooLarge("over a million elements"));
                }
                if stack.len() >= DEPTH_MAX {
                    return Err(IsoError::TooLarge("nested over 32 deep"));
                }
                let mut element = Element {
                    name: local(start.name().as_ref()),
                    ..Element::default()
                };
                for (n, attribute) in start.attributes().enumerate() {
                    if n == ATTRIBUTES_MAX {
                        return Err(IsoError::TooLarge("over 16 attributes on an element"));
                    }
                    let attribute = attribute.map_err(|e| xml_error(&e))?;
                    let value = attribute
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| xml_error(&e))?;
                    element
                        .attributes
                        .push((local(attribute.key.as_ref()), value.into_owned()));
                }
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, element, &mut root);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(IsoError::Xml("an end tag without its start".into()));
                };
                close(&mut stack, element, &mut root);
            }
            Event::Text(text) => {
                let text = text.xml10_content();
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(IsoError::Xml("text outside the root element".into())),
                }
            }
            Event::CData(data) => {
                let data = data.xml10_content();
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&data);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(|e| xml_error(&e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = reference.xml10_content();
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| IsoError::Xml(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&resolved);
                }
            }
            Event::DocType(_) => {
                return Err(IsoError::Xml("a DOCTYPE is not accepted".into()));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(IsoError::Xml("the document ends inside an element".into()));
    }
    root.ok_or_else(|| IsoError::Xml("no root element".into()))
}

fn close(stack: &mut [Element], mut element: Element, root: &mut Option<Element>) {
    element.text = element.text.trim().to_owned();
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// The message element under the `Document` root, checked to be `name`.
fn message<'a>(
    root: &'a Element,
    name: &'static str,
    expected: &'static str,
) -> Result<&'a Element, IsoError> {
    let found = if root.name == "Document" {
        root.children.first()
    } else {
        Some(root)
    };
    match found {
        Some(m) if m.name == name => Ok(m),
        other => Err(IsoError::WrongMessage {
            expected,
            found: other.map_or_else(|| root.name.clone(), |m| m.name.clone()),
        }),
    }
}

fn required<'a>(e: &'a Element, path: &'static str, what: &str) -> Result<&'a str, IsoError> {
    e.text_at(path).ok_or_else(|| IsoError::Missing {
        what: what.to_owned(),
        path,
    })
}

/// A customer credit transfer message (`pacs.008`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `GrpHdr/CreDtTm`.
    pub created: String,
    /// One per `CdtTrfTxInf`.
    pub transactions: Vec<CreditTransferTx>,
}

/// One credit transfer transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransferTx {
    /// `PmtId/InstrId`, if given.
    pub instruction_id: Option<String>,
    /// `PmtId/EndToEndId`.
    pub end_to_end_id: String,
    /// `IntrBkSttlmAmt` text, a decimal such as `12.50`.
    pub amount: String,
    /// Its `Ccy`: the asset code.
    pub currency: String,
    /// `Dbtr/Nm`.
    pub debtor_name: Option<String>,
    /// `DbtrAcct/Id/Othr/Id`: the paying account, hex.
    pub debtor_account: String,
    /// `Cdtr/Nm`.
    pub creditor_name: Option<String>,
    /// `CdtrAcct/Id/Othr/Id`: the receiving account, hex.
    pub creditor_account: String,
    /// `RmtInf/Ustrd`, joined by a space (empty: none).
    pub remittance: String,
}

/// Reads a `pacs.008` message.
pub fn parse_pacs008(xml: &str) -> Result<CreditTransfer, IsoError> {
    let root = parse(xml)?;
    let m = message(&root, "FIToFICstmrCdtTrf", "pacs.008 (FIToFICstmrCdtTrf)")?;
    let header = "the group header";
    let message_id = required(m, "GrpHdr/MsgId", header)?.to_owned();
    let created = m.text_at("GrpHdr/CreDtTm").unwrap_or_default().to_owned();
    let mut transactions = Vec::new();
    for (i, tx) in m.all("CdtTrfTxInf").enumerate() {
        let what = format!("transaction {}", i + 1);
        let amount = tx.at("IntrBkSttlmAmt").ok_or_else(|| IsoError::Missing {
            what: what.clone(),
            path: "IntrBkSttlmAmt",
        })?;
        let currency = amount.attribute("Ccy").ok_or_else(|| IsoError::Missing {
            what: what.clone(),
            path: "IntrBkSttlmAmt/@Ccy",
        })?;
        let remittance: Vec<&str> = tx
            .child("RmtInf")
            .into_iter()
            .flat_map(|r| r.all("Ustrd"))
            .map(|u| u.text.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        transactions.push(CreditTransferTx {
            instruction_id: tx.text_at("PmtId/InstrId").map(str::to_owned),
            end_to_end_id: required(tx, "PmtId/EndToEndId", &what)?.to_owned(),
            amount: required(tx, "IntrBkSttlmAmt", &what)?.to_owned(),
            currency: currency.to_owned(),
            debtor_name: tx.text_at("Dbtr/Nm").map(str::to_owned),
            debtor_account: required(tx, "DbtrAcct/Id/Othr/Id", &what)?.to_owned(),
            creditor_name: tx.text_at("Cdtr/Nm").map(str::to_owned),
            creditor_account: required(tx, "CdtrAcct/Id/Othr/Id", &what)?.to_owned(),
            remittance: remittance.join(" "),
        });
    }
    if transactions.is_empty() {
        return Err(IsoError::Missing {
            what: "the message".into(),
            path: "CdtTrfTxInf",
        });
    }
    Ok(CreditTransfer {
        message_id,
        created,
        transactions,
    })
}

/// A small XML writer: indented, every text escaped.
struct Writer {
    out: String,
    open: Vec<&'static str>,
}

impl Writer {
    fn new(namespace: &str) -> Writer {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!("<Document xmlns=\"{}\">\n", escape(namespace)));
        Writer {
            out,
            open: vec!["Document"],
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn start(&mut self, name: &'static str) -> &mut Writer {
        self.indent();
        self.out.push_str(&format!("<{name}>\n"));
        self.open.push(name);
        self
    }

    fn end(&mut self) -> &mut Writer {
        if let Some(name) = self.open.pop() {
            self.indent();
            self.out.push_str(&format!("</{name}>\n"));
        }
        self
    }

    fn leaf(&mut self, name: &str, text: &str) -> &mut Writer {
        self.indent();
        self.out
            .push_str(&format!("<{name}>{}</{name}>\n", escape(text)));
        self
    }

    fn amount(&mut self, name: &str, currency: &str, amount: &str) -> &mut Writer {
        self.indent();
        self.out.push_str(&format!(
            "<{name} Ccy=\"{}\">{}</{name}>\n",
            escape(currency),
            escape(amount)
        ));
        self
    }

    fn account(&mut self, name: &'static str, account: &str) -> &mut Writer {
        self.start(name).start("Id").start("Othr");
        self.leaf("Id", account).end().end().end()
    }

    fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        self.out
    }
}

/// Writes a `pacs.008` message (a bank's outgoing payments as ISO 20022).
pub fn write_pacs008(message: &CreditTransfer) -> String {
    let mut w = Writer::new(PACS_008);
    w.start("FIToFICstmrCdtTrf").start("GrpHdr");
    w.leaf("MsgId", &message.message_id)
        .leaf("CreDtTm", &message.created)
        .leaf("NbOfTxs", &message.transactions.len().to_string());
    w.start("SttlmInf").leaf("SttlmMtd", "CLRG").end();
    w.end();
    for tx in &message.transactions {
        w.start("CdtTrfTxInf").start("PmtId");
        if let Some(id) = &tx.instruction_id {
            w.leaf("InstrId", id);
        }
        w.leaf("EndToEndId", &tx.end_to_end_id).end();
        w.amount("IntrBkSttlmAmt", &tx.currency, &tx.amount)
            .leaf("ChrgBr", "SLEV");
        w.start("Dbtr");
        w.leaf("Nm", tx.debtor_name.as_deref().unwrap_or("NOTPROVIDED"))
            .end();
        w.account("DbtrAcct", &tx.debtor_account);
        w.start("Cdtr");
        w.leaf("Nm", tx.creditor_name.as_deref().unwrap_or("NOTPROVIDED"))
            .end();
        w.account("CdtrAcct", &tx.creditor_account);
        if !tx.remittance.is_empty() {
            w.start("RmtInf").leaf("Ustrd", &tx.remittance).end();
        }
        w.end();
    }
    w.finish()
}

/// A payment's status in a `pacs.002` report (`TxSts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// `ACSC`: settled (committed and applied).
    Settled,
    /// `RJCT`: rejected (committed, not applied; or refused by the node).
    Rejected,
    /// `PDNG`: pending (not committed yet, or not found).
    Pending,
}

impl TxStatus {
    /// The ISO code.
    pub fn code(self) -> &'static str {
        match self {
            TxStatus::Settled => "ACSC",
            TxStatus::Rejected => "RJCT",
            TxStatus::Pending => "PDNG",
        }
    }

    fn from_code(code: &str) -> Option<TxStatus> {
        match code {
            "ACSC" => Some(TxStatus::Settled),
            "RJCT" => Some(TxStatus::Rejected),
            "PDNG" => Some(TxStatus::Pending),
            _ => None,
        }
    }
}

/// A payment status report (`pacs.002`) on an original `pacs.008`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `GrpHdr/CreDtTm`.
    pub created: String,
    /// `OrgnlGrpInfAndSts/OrgnlMsgId`.
    pub original_message_id: String,
    /// One per original transaction.
    pub transactions: Vec<TxStatusEntry>,
}

/// One transaction's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxStatusEntry {
    /// `OrgnlInstrId`.
    pub original_instruction_id: Option<String>,
    /// `OrgnlEndToEndId`.
    pub original_end_to_end_id: String,
    /// `OrgnlTxId`: the Clearhouse transaction id, hex (if there is one).
    pub transaction_id: Option<String>,
    /// `TxSts`.
    pub status: TxStatus,
    /// `StsRsnInf/AddtlInf`: the rejection's reason code and reason.
    pub reason: Option<String>,
}

/// Writes a `pacs.002` report.
pub fn write_pacs002(report: &StatusReport) -> String {
    let mut w = Writer::new(PACS_002);
    w.start("FIToFIPmtStsRpt").start("GrpHdr");
    w.leaf("MsgId", &report.message_id)
        .leaf("CreDtTm", &report.created)
        .end();
    w.start("OrgnlGrpInfAndSts")
        .leaf("OrgnlMsgId", &report.original_message_id)
        .leaf("OrgnlMsgNmId", "pacs.008.001.08")
        .end();
    for tx in &report.transactions {
        w.start("TxInfAndSts");
        if let Some(id) = &tx.original_instruction_id {
            w.leaf("OrgnlInstrId", id);
        }
        w.leaf("OrgnlEndToEndId", &tx.original_end_to_end_id);
        if let Some(id) = &tx.transaction_id {
            w.leaf("OrgnlTxId", id);
        }
        w.leaf("TxSts", tx.status.code());
        if let Some(reason) = &tx.reason {
            w.start("StsRsnInf").leaf("AddtlInf", reason).end();
        }
        w.end();
    }
    w.finish()
}

/// Reads a `pacs.002` report.
pub fn parse_pacs002(xml: &str) -> Result<StatusReport, IsoError> {
    let root = parse(xml)?;
    let m = message(&root, "FIToFIPmtStsRpt", "pacs.002 (FIToFIPmtStsRpt)")?;
    let header = "the group header";
    let mut transactions = Vec::new();
    for (i, tx) in m.all("TxInfAndSts").enumerate() {
        let what = format!("status {}", i + 1);
        let code = required(tx, "TxSts", &what)?;
        transactions.push(TxStatusEntry {
            original_instruction_id: tx.text_at("OrgnlInstrId").map(str::to_owned),
            original_end_to_end_id: required(tx, "OrgnlEndToEndId", &what)?.to_owned(),
            transaction_id: tx.text_at("OrgnlTxId").map(str::to_owned),
            status: TxStatus::from_code(code).ok_or(IsoError::Missing {
                what,
                path: "TxSts (ACSC, RJCT or PDNG)",
            })?,
            reason: tx.text_at("StsRsnInf/AddtlInf").map(str::to_owned),
        });
    }
    Ok(StatusReport {
        message_id: required(m, "GrpHdr/MsgId", header)?.to_owned(),
        created: m.text_at("GrpHdr/CreDtTm").unwrap_or_default().to_owned(),
        original_message_id: required(m, "OrgnlGrpInfAndSts/OrgnlMsgId", header)?.to_owned(),
        transactions,
    })
}

/// A debit/credit notification (`camt.054`) for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `GrpHdr/CreDtTm`.
    pub created: String,
    /// `Ntfctn/Acct/Id/Othr/Id`: the account, hex.
    pub account: String,
    /// One per booked payment.
    pub entries: Vec<Entry>,
}

/// One booked payment (`Ntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `Amt` text.
    pub amount: String,
    /// Its `Ccy`.
    pub currency: String,
    /// `CdtDbtInd`: `true` for `CRDT` (money in), `false` for `DBIT`.
    pub credit: bool,
    /// `BookgDt/Dt` stands for the block: `Ntry/NtryRef` carries the height.
    pub height: u64,
    /// `NtryDtls/TxDtls/Refs/EndToEndId`.
    pub end_to_end_id: String,
    /// `NtryDtls/TxDtls/Refs/TxId`: the Clearhouse transaction id, hex.
    pub transaction_id: String,
    /// `NtryDtls/TxDtls/RmtInf/Ustrd` (empty: none).
    pub remittance: String,
}

/// Writes a `camt.054` notification.
pub fn write_camt054(notification: &Notification) -> String {
    let mut w = Writer::new(CAMT_054);
    w.start("BkToCstmrDbtCdtNtfctn").start("GrpHdr");
    w.leaf("MsgId", &notification.message_id)
        .leaf("CreDtTm", &notification.created)
        .end();
    w.start("Ntfctn");
    w.leaf("Id", &notification.message_id)
        .leaf("CreDtTm", &notification.created);
    w.account("Acct", &notification.account);
    for entry in &notification.entries {
        w.start("Ntry");
        w.leaf("NtryRef", &entry.height.to_string())
            .amount("Amt", &entry.currency, &entry.amount)
            .leaf("CdtDbtInd", if entry.credit { "CRDT" } else { "DBIT" })
            .start("Sts")
            .leaf("Cd", "BOOK")
            .end();
        w.start("NtryDtls").start("TxDtls").start("Refs");
        w.leaf("EndToEndId", &entry.end_to_end_id)
            .leaf("TxId", &entry.transaction_id)
            .end();
        if !entry.remittance.is_empty() {
            w.start("RmtInf").leaf("Ustrd", &entry.remittance).end();
        }
        w.end().end().end();
    }
    w.finish()
}

/// Reads a `camt.054` notification.
pub fn parse_camt054(xml: &str) -> Result<Notification, IsoError> {
    let root = parse(xml)?;
    let m = message(
        &root,
        "BkToCstmrDbtCdtNtfctn",
        "camt.054 (BkToCstmrDbtCdtNtfctn)",
    )?;
    let header = "the group header";
    let n = m.child("Ntfctn").ok_or(IsoError::Missing {
        what: "the message".into(),
        path: "Ntfctn",
    })?;
    let mut entries = Vec::new();
    for (i, e) in n.all("Ntry").enumerate() {
        let what = format!("entry {}", i + 1);
        let amount = e.at("Amt").ok_or_else(|| IsoError::Missing {
            what: what.clone(),
            path: "Amt",
        })?;
        let height = required(e, "NtryRef", &what)?
            .parse()
            .map_err(|_| IsoError::Missing {
                what: what.clone(),
                path: "NtryRef (a block height)",
            })?;
        let details = "NtryDtls/TxDtls";
        entries.push(Entry {
            amount: required(e, "Amt", &what)?.to_owned(),
            currency: amount.attribute("Ccy").unwrap_or_default().to_owned(),
            credit: required(e, "CdtDbtInd", &what)? == "CRDT",
            height,
            end_to_end_id: required(e, "NtryDtls/TxDtls/Refs/EndToEndId", &what)?.to_owned(),
            transaction_id: required(e, "NtryDtls/TxDtls/Refs/TxId", &what)?.to_owned(),
            remittance: e
                .at(details)
                .and_then(|d| d.text_at("RmtInf/Ustrd"))
                .unwrap_or_default()
                .to_owned(),
        });
    }
    Ok(Notification {
        message_id: required(m, "GrpHdr/MsgId", header)?.to_owned(),
        created: m.text_at("GrpHdr/CreDtTm").unwrap_or_default().to_owned(),
        account: required(n, "Acct/Id/Othr/Id", "the notification")?.to_owned(),
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../tests/samples/pacs008.xml");

    fn sample() -> String {
        SAMPLE
            .replace("{DEBTOR}", &"aa".repeat(32))
            .replace("{CREDITOR_1}", &"bb".repeat(32))
            .replace("{CREDITOR_2}", &"cc".repeat(32))
    }

    #[test]
    fn the_sample_pacs008_reads_as_its_payments() {
        let message = parse_pacs008(&sample()).unwrap();
        assert_eq!(message.message_id, "BANK0-20261207-0001");
        assert_eq!(message.transactions.len(), 3);
        let first = &message.transactions[0];
        assert_eq!(first.instruction_id.as_deref(), Some("INSTR-1"));
        assert_eq!(first.end_to_end_id, "INV-2026-0001");
        assert_eq!(
            (first.amount.as_str(), first.currency.as_str()),
            ("12.50", "CNY")
        );
        assert_eq!(first.debtor_account, "aa".repeat(32));
        assert_eq!(first.creditor_account, "bb".repeat(32));
        assert_eq!(first.creditor_name.as_deref(), Some("Smith & Sons"));
        assert_eq!(first.remittance, "invoice 0001 \u{2013} December");
        // Several Ustrd lines join; CDATA is text.
        assert_eq!(message.transactions[1].remittance, "order 77 <part 2>");
        assert_eq!(message.transactions[2].remittance, "");
    }

    #[test]
    fn a_pacs008_written_from_a_message_reads_back_as_it() {
        let message = parse_pacs008(&sample()).unwrap();
        let written = write_pacs008(&message);
        assert!(written.contains(PACS_008));
        assert!(written.contains("Smith &amp; Sons"), "{written}");
        assert_eq!(parse_pacs008(&written).unwrap(), message);
    }

    #[test]
    fn a_prefixed_document_reads_the_same() {
        let prefixed = sample()
            .replace("<Document xmlns=", "<p:Document xmlns:p=")
            .replace("</Document>", "</p:Document>")
            .replace("<FIToFICstmrCdtTrf>", "<p:FIToFICstmrCdtTrf>")
            .replace("</FIToFICstmrCdtTrf>", "</p:FIToFICstmrCdtTrf>");
        assert_eq!(
            parse_pacs008(&prefixed).unwrap(),
            parse_pacs008(&sample()).unwrap()
        );
    }

    #[test]
    fn status_reports_and_notifications_round_trip() {
        let report = StatusReport {
            message_id: "CH-STS-0123456789abcdef".into(),
            created: "2026-12-07T09:00:00Z".into(),
            original_message_id: "BANK0-20261207-0001".into(),
            transactions: vec![
                TxStatusEntry {
                    original_instruction_id: Some("INSTR-1".into()),
                    original_end_to_end_id: "INV-2026-0001".into(),
                    transaction_id: Some("ab".repeat(32)),
                    status: TxStatus::Settled,
                    reason: None,
                },
                TxStatusEntry {
                    original_instruction_id: None,
                    original_end_to_end_id: "INV-2026-0003".into(),
                    transaction_id: Some("cd".repeat(32)),
                    status: TxStatus::Rejected,
                    reason: Some("insufficient_funds: balance < 1 & more".into()),
                },
                TxStatusEntry {
                    original_instruction_id: None,
                    original_end_to_end_id: "INV-2026-0004".into(),
                    transaction_id: None,
                    status: TxStatus::Pending,
                    reason: None,
                },
            ],
        };
        let xml = write_pacs002(&report);
        assert!(xml.contains("<TxSts>RJCT</TxSts>"), "{xml}");
        assert_eq!(parse_pacs002(&xml).unwrap(), report);
        let notification = Notification {
            message_id: "CH-NTF-0123456789abcdef".into(),
            created: "2026-12-07T09:00:00Z".into(),
            account: "bb".repeat(32),
            entries: vec![
                Entry {
                    amount: "12.50".into(),
                    currency: "CNY".into(),
                    credit: true,
                    height: 17,
                    end_to_end_id: "INV-2026-0001".into(),
                    transaction_id: "ab".repeat(32),
                    remittance: "invoice <1>".into(),
                },
                Entry {
                    amount: "3.00".into(),
                    currency: "USD".into(),
                    credit: false,
                    height: 18,
                    end_to_end_id: "X".into(),
                    transaction_id: "ef".repeat(32),
                    remittance: String::new(),
                },
            ],
        };
        let xml = write_camt054(&notification);
        assert!(xml.contains("<CdtDbtInd>DBIT</CdtDbtInd>"), "{xml}");
        assert_eq!(parse_camt054(&xml).unwrap(), notification);
    }

    #[test]
    fn bad_messages_are_typed_errors() {
        assert!(matches!(parse_pacs008("not xml <"), Err(IsoError::Xml(_))));
        assert!(matches!(
            parse_pacs008("<Document><Other/></Document>"),
            Err(IsoError::WrongMessage { .. })
        ));
        let no_e2e = sample().replace("<EndToEndId>INV-2026-0002</EndToEndId>", "");
        assert_eq!(
            parse_pacs008(&no_e2e),
            Err(IsoError::Missing {
                what: "transaction 2".into(),
                path: "PmtId/EndToEndId"
            })
        );
        let no_ccy = sample().replace("Ccy=\"CNY\">3<", ">3<");
        assert!(matches!(
            parse_pacs008(&no_ccy),
            Err(IsoError::Missing { .. })
        ));
        // Entity expansion is refused outright: no DOCTYPE at all.
        let laughs =
            "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"aaaa\">]><Document>&a;</Document>";
        assert!(matches!(parse_pacs008(laughs), Err(IsoError::Xml(_))));
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        assert_eq!(parse(&deep), Err(IsoError::TooLarge("nested over 32 deep")));
        let attributes: String = (0..17).map(|i| format!(" a{i}=\"x\"")).collect();
        assert_eq!(
            parse(&format!("<Document{attributes}/>")),
            Err(IsoError::TooLarge("over 16 attributes on an element"))
        );
        let unclosed = "<Document><FIToFICstmrCdtTrf>";
        assert!(matches!(parse_pacs008(unclosed), Err(IsoError::Xml(_))));
        let empty = "<Document><FIToFICstmrCdtTrf><GrpHdr><MsgId>M</MsgId></GrpHdr></FIToFICstmrCdtTrf></Document>";
        assert!(matches!(
            parse_pacs008(empty),
            Err(IsoError::Missing {
                path: "CdtTrfTxInf",
                ..
            })
        ));
    }
}
