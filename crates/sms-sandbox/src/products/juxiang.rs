//! Juxiang (`/send/*.asp`): gsend, checkcontent, getfee, readsms and cpwd, all in GBK.

use std::sync::Arc;

use super::{Ctx, Outcome, ip_allowed};
use crate::clock;
use crate::config::{Account, Product};
use crate::params::Params;
use crate::records::RecordedMessage;
use crate::render;
use crate::rules;
use crate::state::State;

/// The pages served under `/send/`.
pub(crate) const PAGES: [&str; 5] = [
    "gsend.asp",
    "checkcontent.asp",
    "getfee.asp",
    "readsms.asp",
    "cpwd.asp",
];

/// Characters of a normal SMS; longer text is cut.
const NORMAL_CHARS: usize = 60;
/// Characters of a long SMS (`txt=ccdx`); longer is refused (6015).
const LONG_CHARS: usize = 240;
/// Characters checkcontent accepts.
const CHECK_CHARS: usize = 540;
/// A batch must have fewer numbers than this.
const MAX_BATCH: usize = 100;
/// readsms `err` text of an empty inbox.
const NOTHING_UNREAD: &str = "没有新的短信";
/// Longest `sender` extension (the documentation: "length < 9").
const MAX_SENDER_DIGITS: usize = 8;
/// The service code plus the extension must have fewer digits than this.
const MAX_SENDING_NUMBER_DIGITS: usize = 17;
/// Words that make checkcontent suspect premium-rate (SP) content (6022).
const SP_WORDS: [&str; 3] = ["包月", "点播", "订购业务"];

/// A refusal: the `errid` and the `err` text.
struct Refusal {
    errid: String,
    err: String,
}

fn refuse(errid: &str) -> Refusal {
    Refusal {
        errid: errid.to_owned(),
        err: message(errid).to_owned(),
    }
}

fn message(errid: &str) -> &'static str {
    match errid {
        "0" => "成功",
        "6001" => "用户名无效",
        "6002" => "帐号已停用",
        "6003" => "密码错误",
        "6004" => "号码在保护名单中",
        "6005" => "内容含有非法字符",
        "6006" => "通道无法计费",
        "6007" => "没有合适的通道",
        "6008" => "无效的手机号码",
        "6009" => "号码在黑名单中",
        "6010" => "企业验证失败",
        "6011" => "不允许发送到该号码",
        "6012" => "IP受限",
        "6013" => "余额不足",
        "6014" => "内容为空",
        "6015" => "内容过长",
        "6016" => "密码长度必须大于4位",
        "6017" => "余额查询失败",
        "6018" => "未开通SDK或试用期已过",
        "6019" => "接口已停用",
        "6020" => "VIP专用接口",
        "6021" => "扩展号未登记",
        "6022" => "疑似SP内容",
        _ => "模拟的服务商错误",
    }
}

pub(crate) fn answer(ctx: &Ctx<'_>, params: &Params) -> Outcome {
    let page = ctx.page;
    let result = match ctx.forced.as_deref().filter(|c| *c != "0") {
        Some(code) => Err(refuse(code)),
        None => {
            let mut state = ctx.shared.state();
            match page {
                "gsend.asp" => gsend(ctx, &mut state, params),
                "checkcontent.asp" => check_content(ctx, &mut state, params),
                "getfee.asp" => get_fee(ctx, &mut state, params),
                "readsms.asp" => read_sms(ctx, &mut state, params),
                _ => change_password(ctx, &mut state, params),
            }
        }
    };
    let pairs = match result {
        Ok(pairs) => pairs,
        Err(Refusal { errid, err }) => match page {
            "gsend.asp" => vec![("num", "0".to_owned()), ("err", err), ("errid", errid)],
            "getfee.asp" => vec![("id", "-9999".to_owned()), ("err", err), ("errid", errid)],
            // The documented readsms fields carry no errid: a failure is `id=0` and its text, the
            // same `id` as an empty inbox.
            "readsms.asp" => vec![("id", "0".to_owned()), ("err", err)],
            _ => vec![("errid", errid), ("err", err)],
        },
    };
    render::juxiang(&pairs).into()
}

type Pairs = Vec<(&'static str, String)>;

fn authenticate(ctx: &Ctx<'_>, state: &State, params: &Params) -> Result<Arc<Account>, Refusal> {
    let name = params.get("name");
    if name.trim().is_empty() {
        return Err(refuse("6001"));
    }
    let account = state
        .account(Product::Juxiang, name)
        .ok_or_else(|| refuse("6001"))?;
    if !ip_allowed(&account.config.allowed_ips, ctx.peer) {
        return Err(refuse("6012"));
    }
    if params.get("pwd") != account.key {
        return Err(refuse("6003"));
    }
    if account.config.frozen {
        return Err(refuse("6002"));
    }
    Ok(Arc::clone(&account.config))
}

fn sensitive(account: &Account, text: &str) -> Result<(), Refusal> {
    match rules::sensitive_word(account, text) {
        Some(word) => Err(Refusal {
            errid: "6005".to_owned(),
            err: format!("{}:{word}", message("6005")),
        }),
        None => Ok(()),
    }
}

fn gsend(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Pairs, Refusal> {
    let account = authenticate(ctx, state, params)?;
    let msg = params.get("msg");
    if msg.trim().is_empty() {
        return Err(refuse("6014"));
    }
    let numbers: Vec<&str> = params
        .get("dst")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if numbers.is_empty() {
        return Err(refuse("6008"));
    }
    if numbers.len() >= MAX_BATCH {
        return Err(Refusal {
            errid: "6008".to_owned(),
            err: format!("号码个数必须少于{MAX_BATCH}个"),
        });
    }
    let sender = params.get("sender").trim();
    if !sender_allowed(&account.service_code, sender) {
        return Err(refuse("6021"));
    }
    let sender_number = (!sender.is_empty()).then(|| format!("{}{sender}", account.service_code));
    let long = params.get("txt").trim().eq_ignore_ascii_case("ccdx") && account.long_sms;
    let text = if long {
        if msg.chars().count() > LONG_CHARS {
            return Err(refuse("6015"));
        }
        msg
    } else {
        // The provider cuts normal SMS instead of refusing them.
        rules::cut_chars(msg, NORMAL_CHARS)
    };
    sensitive(&account, text)?;

    let mut success = Vec::new();
    let mut failed = Vec::new();
    let mut any_invalid = false;
    for number in numbers {
        if !rules::is_mainland_mobile(number) {
            any_invalid = true;
            failed.push(number.to_owned());
        } else if account.blacklist.iter().any(|b| b == number) {
            failed.push(number.to_owned());
        } else {
            success.push(number.to_owned());
        }
    }
    if success.is_empty() {
        let errid = if any_invalid { "6008" } else { "6009" };
        return Ok(vec![
            ("num", "0".to_owned()),
            ("success", String::new()),
            ("faile", failed.join(",")),
            ("err", message(errid).to_owned()),
            ("errid", errid.to_owned()),
        ]);
    }
    let parts = rules::juxiang_parts(text);
    let billed = i64::from(parts) * i64::try_from(success.len()).unwrap_or(i64::MAX);
    let Some(balance) = state.account_mut(Product::Juxiang, &account.account) else {
        return Err(refuse("6001"));
    };
    if balance.balance < billed {
        return Err(refuse("6013"));
    }
    balance.balance -= billed;
    let time = params.get("time").trim();
    let scheduled = clock::is_calendar_time(time, clock::TimeLayout::CompactMinutes).then(|| time.to_owned());
    let id = (400_000_000 + state.next_number()).to_string();
    let pairs = vec![
        ("num", success.len().to_string()),
        ("success", success.join(",")),
        ("faile", failed.join(",")),
        ("err", "发送成功".to_owned()),
        ("errid", "0".to_owned()),
    ];
    state.record(RecordedMessage {
        product: Product::Juxiang,
        account: account.account.clone(),
        recipients: success,
        failed,
        text: text.to_owned(),
        provider_id: id,
        time: ctx.now,
        parts,
        billed,
        template_id: None,
        scheduled,
        delivered: true,
        sender_number,
    });
    Ok(pairs)
}

/// The documented extension rule: digits only, fewer than 9 ("length < 9"), and the service code
/// plus the extension under 17 digits. An empty `sender` is no extension.
fn sender_allowed(service_code: &str, sender: &str) -> bool {
    sender.is_empty()
        || (sender.bytes().all(|b| b.is_ascii_digit())
            && sender.len() <= MAX_SENDER_DIGITS
            && service_code.len() + sender.len() < MAX_SENDING_NUMBER_DIGITS)
}

fn check_content(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Pairs, Refusal> {
    let account = authenticate(ctx, state, params)?;
    let content = params.get("content");
    if content.trim().is_empty() {
        return Err(refuse("6014"));
    }
    if content.chars().count() > CHECK_CHARS {
        return Err(refuse("6015"));
    }
    sensitive(&account, content)?;
    if SP_WORDS.iter().any(|w| content.contains(w)) {
        return Err(refuse("6022"));
    }
    Ok(vec![("errid", "0".to_owned()), ("err", "成功".to_owned())])
}

fn get_fee(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Pairs, Refusal> {
    let account = authenticate(ctx, state, params)?;
    let balance = state.balance(Product::Juxiang, &account.account).unwrap_or(0);
    Ok(vec![
        ("id", balance.to_string()),
        ("err", "成功".to_owned()),
        ("errid", "0".to_owned()),
        ("short", account.short_name.clone()),
    ])
}

fn read_sms(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Pairs, Refusal> {
    let account = authenticate(ctx, state, params)?;
    let position = state.inbound.iter().position(|q| {
        q.reply.product == Product::Juxiang && q.reply.account.as_deref().is_none_or(|a| a == account.account)
    });
    let Some(queued) = position.and_then(|i| state.inbound.remove(i)) else {
        return Ok(vec![("id", "0".to_owned()), ("err", NOTHING_UNREAD.to_owned())]);
    };
    let id = state.next_number();
    Ok(vec![
        ("id", id.to_string()),
        ("err", "成功".to_owned()),
        ("src", queued.reply.from),
        ("msg", queued.reply.text),
        (
            "dst",
            queued
                .reply
                .service_number
                .unwrap_or_else(|| account.service_code.clone()),
        ),
        ("time", clock::format_compact(queued.time)),
    ])
}

fn change_password(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Pairs, Refusal> {
    let account = authenticate(ctx, state, params)?;
    let new = params.get("newpwd");
    let len = new.chars().count();
    if len <= 4 {
        return Err(refuse("6016"));
    }
    if len >= 20 {
        return Err(Refusal {
            errid: "6016".to_owned(),
            err: "密码长度必须少于20位".to_owned(),
        });
    }
    if let Some(a) = state.account_mut(Product::Juxiang, &account.account) {
        a.key = new.to_owned();
    }
    Ok(vec![("errid", "0".to_owned()), ("err", "成功".to_owned())])
}
