//! ihuyi SMS (`sms.php`), international SMS (`isms.php`) and voice codes (`voice.php`):
//! Submit, GetNum and (SMS only) AddTemplate.

use std::sync::Arc;

use hyper::StatusCode;

use super::{Ctx, Outcome, ip_allowed, md5_hex};
use crate::clock;
use crate::config::{Account, Product};
use crate::delivery::ReceiptFate;
use crate::params::{Charset, Params};
use crate::pushes::PushJob;
use crate::records::{PushKind, RecordedMessage};
use crate::render::{Answer, Field, Reply};
use crate::rules;
use crate::state::{AccountState, LimitHit, State};

/// Accepted distance between the client's `time` and ours, in seconds (40501 beyond).
const TIME_WINDOW_SECS: u64 = 600;
/// Longest accepted SMS text, in characters (4073 beyond).
const MAX_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Submit,
    GetNum,
    AddTemplate,
}

impl Method {
    fn root(self) -> &'static str {
        match self {
            Method::Submit => "SubmitResult",
            Method::GetNum => "GetNumResult",
            Method::AddTemplate => "AddTemplateResult",
        }
    }
}

/// A refused request: the provider code and its message.
#[derive(Debug)]
struct Refusal {
    code: String,
    msg: String,
}

impl Refusal {
    fn new(product: Product, code: &str) -> Self {
        Refusal {
            code: code.to_owned(),
            msg: message(product, code).to_owned(),
        }
    }

    fn with_msg(code: &str, msg: String) -> Self {
        Refusal {
            code: code.to_owned(),
            msg,
        }
    }
}

/// The provider's message for `code` (unknown codes get a generic one).
pub(crate) fn message(product: Product, code: &str) -> &'static str {
    match (product, code) {
        (_, "2") => "提交成功",
        (_, "0") => "提交失败",
        (_, "400") => "非法ip访问",
        (_, "401") => "帐号不能为空",
        (_, "402") => "密码不能为空",
        (_, "403") => "手机号码不能为空",
        (_, "4030") => "手机号码已被列入黑名单",
        (Product::IhuyiVoice, "404") => "语音验证码内容不能为空",
        (_, "404") => "短信内容不能为空",
        (_, "405") => "API ID 或 API KEY 不正确",
        (_, "4050") => "账号被冻结",
        (_, "40501") => "动态密码已过期",
        (_, "40502") => "动态密码校验失败",
        (_, "4051") => "剩余条数不足",
        (_, "4052") => "访问ip与备案ip不符",
        (_, "406") => "手机格式不正确",
        (_, "407") => "短信内容含有敏感字符",
        (Product::IhuyiVoice, "4070") => "语音验证码必须为4-6位数字",
        (_, "4070") | (_, "4071") | (_, "4072") => "签名格式不正确",
        (_, "40722") => "变量内容超过指定的长度",
        (_, "4073") => "短信内容超出长度限制",
        (_, "4074") => "短信内容包含emoji符号",
        (_, "4075") => "签名未通过审核",
        (Product::IhuyiVoice, "408") => "您的帐户疑被恶意利用，已被自动冻结",
        (_, "408") => "同一手机号码发送频率超限，号码已被自动列入黑名单",
        (_, "4080") => "同一手机号码同一秒钟之内发送频率不能超过1条",
        (_, "4082") => "同一手机号码一天之内发送频率超出限制",
        (_, "4085") => "同一手机号码验证码短信发送超出限制",
        _ => "模拟的服务商错误",
    }
}

fn namespace(product: Product, method: Method) -> &'static str {
    match (product, method) {
        // Real answers use both hosts; clients must ignore the namespace.
        (Product::IhuyiSms, Method::GetNum) => "http://106.ihuyi.cn/",
        (Product::IhuyiInternational, _) => "http://api.isms.ihuyi.com/",
        (Product::IhuyiVoice, _) => "http://api.voice.ihuyi.com/",
        _ => "http://106.ihuyi.com/",
    }
}

fn id_field(product: Product, method: Method) -> &'static str {
    match (product, method) {
        (_, Method::GetNum) => "num",
        (_, Method::AddTemplate) => "templateid",
        (Product::IhuyiVoice, Method::Submit) => "voiceid",
        (_, Method::Submit) => "smsid",
    }
}

pub(crate) fn answer(ctx: &Ctx<'_>, params: &Params) -> Outcome {
    let json = params.get("format").trim().eq_ignore_ascii_case("json");
    let name = params.get("method").trim();
    let method = if name.eq_ignore_ascii_case("Submit") {
        Method::Submit
    } else if name.eq_ignore_ascii_case("GetNum") {
        Method::GetNum
    } else if name.eq_ignore_ascii_case("AddTemplate") && ctx.product == Product::IhuyiSms {
        Method::AddTemplate
    } else if name.is_empty() {
        return Reply::plain(StatusCode::BAD_REQUEST, "missing `method` parameter").into();
    } else {
        return Reply::plain(StatusCode::BAD_REQUEST, format!("unknown method `{name}`")).into();
    };
    let render = |result: Result<Field, Refusal>| -> Reply {
        let (code, msg, id) = match result {
            Ok(id) => {
                let msg = match method {
                    Method::GetNum => "查询成功",
                    _ => "提交成功",
                };
                ("2".to_owned(), msg.to_owned(), id)
            }
            Err(r) => {
                let id = match method {
                    Method::GetNum => Field::Number(0),
                    _ => Field::Text("0".to_owned()),
                };
                (r.code, r.msg, id)
            }
        };
        Answer {
            root: method.root(),
            namespace: namespace(ctx.product, method),
            code,
            msg,
            fields: vec![(id_field(ctx.product, method), id)],
        }
        .render(json)
    };
    if let Some(code) = ctx.forced.as_deref().filter(|c| *c != "2") {
        return render(Err(Refusal::new(ctx.product, code))).into();
    }
    let mut pushes = Vec::new();
    let result = {
        let mut state = ctx.shared.state();
        match method {
            Method::Submit => submit(ctx, &mut state, params, &mut pushes),
            Method::GetNum => get_num(ctx, &mut state, params),
            Method::AddTemplate => add_template(ctx, &mut state, params),
        }
    };
    Outcome {
        reply: render(result),
        pushes,
    }
}

/// Checks the account, the source IP and the password (plain key, or the dynamic MD5 over
/// `account + key + signed + time` for any of the `signed` variants); then the frozen flag.
fn authenticate<'s>(
    ctx: &Ctx<'_>,
    state: &'s mut State,
    params: &Params,
    signed: &[&str],
) -> Result<&'s mut AccountState, Refusal> {
    let product = ctx.product;
    let name = params.get("account");
    let password = params.get("password");
    let account = state
        .account_mut(product, name)
        .ok_or_else(|| Refusal::new(product, "405"))?;
    if !ip_allowed(&account.config.allowed_ips, ctx.peer) {
        return Err(Refusal::new(product, "400"));
    }
    let time = params.get("time").trim();
    if time.is_empty() {
        if password != account.key {
            return Err(Refusal::new(product, "405"));
        }
    } else {
        let sent: i64 = time.parse().map_err(|_| Refusal::new(product, "40501"))?;
        let skew = clock::unix_secs(ctx.now).saturating_sub(sent).unsigned_abs();
        if skew > TIME_WINDOW_SECS {
            return Err(Refusal::new(product, "40501"));
        }
        let expected_any = signed
            .iter()
            .any(|middle| md5_hex(&[name, &account.key, middle, time]).eq_ignore_ascii_case(password.trim()));
        if !expected_any {
            return Err(Refusal::new(product, "40502"));
        }
    }
    if account.config.frozen {
        return Err(Refusal::new(product, "4050"));
    }
    Ok(account)
}

fn require_credentials(product: Product, params: &Params) -> Result<(), Refusal> {
    if params.get("account").is_empty() {
        return Err(Refusal::new(product, "401"));
    }
    if params.get("password").is_empty() {
        return Err(Refusal::new(product, "402"));
    }
    Ok(())
}

fn get_num(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Field, Refusal> {
    require_credentials(ctx.product, params)?;
    let account = authenticate(ctx, state, params, &[""])?;
    Ok(Field::Number(account.balance))
}

fn add_template(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Field, Refusal> {
    let product = ctx.product;
    require_credentials(product, params)?;
    let content = params.get("content");
    if content.is_empty() {
        return Err(Refusal::new(product, "404"));
    }
    let account = Arc::clone(&authenticate(ctx, state, params, &["", content])?.config);
    check_text(product, &account, content)?;
    let id = state.next_number().to_string();
    state.templates.push(crate::state::Template {
        id: id.clone(),
        product,
        account: account.account.clone(),
        content: content.to_owned(),
    });
    Ok(Field::Text(id))
}

/// Emoji, length and sensitive words of an SMS text.
fn check_text(product: Product, account: &Account, content: &str) -> Result<(), Refusal> {
    if rules::contains_emoji(content) {
        return Err(Refusal::new(product, "4074"));
    }
    if content.chars().count() > MAX_CHARS {
        return Err(Refusal::new(product, "4073"));
    }
    if let Some(word) = rules::sensitive_word(account, content) {
        return Err(Refusal::with_msg(
            "407",
            format!("{}:{word}", message(product, "407")),
        ));
    }
    Ok(())
}

fn submit(
    ctx: &Ctx<'_>,
    state: &mut State,
    params: &Params,
    pushes: &mut Vec<PushJob>,
) -> Result<Field, Refusal> {
    let product = ctx.product;
    require_credentials(product, params)?;
    let mobile = params.get("mobile");
    let content = params.get("content");
    if mobile.is_empty() {
        return Err(Refusal::new(product, "403"));
    }
    if content.is_empty() {
        return Err(Refusal::new(product, "404"));
    }
    let signed = format!("{mobile}{content}");
    let account = Arc::clone(&authenticate(ctx, state, params, &[&signed])?.config);

    let well_formed = match product {
        Product::IhuyiInternational => rules::is_international_mobile(mobile),
        _ => rules::is_mainland_mobile(mobile),
    };
    if !well_formed {
        return Err(Refusal::new(product, "406"));
    }
    if account.blacklist.iter().any(|b| b == mobile) {
        return Err(Refusal::new(product, "4030"));
    }

    let parts = match product {
        Product::IhuyiVoice => {
            if !(4..=6).contains(&content.len()) || !content.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Refusal::new(product, "4070"));
            }
            1
        }
        Product::IhuyiInternational => {
            check_text(product, &account, content)?;
            rules::international_parts(content)
        }
        _ => {
            check_text(product, &account, content)?;
            rules::mainland_parts(content)
        }
    };

    let today = clock::beijing_day(ctx.now);
    // Voice codes have no per-number limit codes of their own (the provider freezes abusers: 408).
    let is_code = rules::is_verification_code(content);
    if product != Product::IhuyiVoice
        && let Some(hit) = state.limit_hit(product, &account, mobile, is_code, ctx.instant, today)
    {
        return Err(match hit {
            LimitHit::Second => Refusal::with_msg(
                "4080",
                format!(
                    "同一手机号码同一秒钟之内发送频率不能超过{}条",
                    account.per_second_limit
                ),
            ),
            LimitHit::Day => Refusal::with_msg(
                "4082",
                format!("同一手机号码一天之内发送频率不能超过{}条", account.per_day_limit),
            ),
            LimitHit::DayCodes => Refusal::with_msg(
                "4085",
                format!("同一手机号码验证码短信发送超出{}条", account.per_day_code_limit),
            ),
        });
    }

    let billed = i64::from(parts);
    let Some(balance) = state.account_mut(product, &account.account) else {
        return Err(Refusal::new(product, "405"));
    };
    if balance.balance < billed {
        return Err(Refusal::new(product, "4051"));
    }
    balance.balance -= billed;
    if product != Product::IhuyiVoice {
        state.note_sent(product, &account, mobile, is_code, ctx.instant, today);
    }

    let n = state.next_number();
    let id = match product {
        // 20 digits, above i64::MAX like the real ones: clients must keep them as strings.
        Product::IhuyiSms | Product::IhuyiInternational => (15_000_000_000_000_000_000u64 + n).to_string(),
        _ => (100_000_000 + n).to_string(),
    };
    let template_id = state
        .templates
        .iter()
        .find(|t| {
            t.product == product && t.account == account.account && template_matches(&t.content, content)
        })
        .map(|t| t.id.clone());
    let fate = ctx.shared.receipt_fate(product);
    let delivered = matches!(fate, ReceiptFate::Delivered(_));
    state.record(RecordedMessage {
        product,
        account: account.account.clone(),
        recipients: vec![mobile.to_owned()],
        failed: Vec::new(),
        text: content.to_owned(),
        provider_id: id.clone(),
        time: ctx.now,
        parts,
        billed,
        template_id,
        scheduled: None,
        delivered,
        sender_number: None,
    });
    let receipt = match fate {
        ReceiptFate::Delivered(delay) => Some(("2", "DELIVRD", delay)),
        ReceiptFate::Undelivered(delay) => Some(("0", "UNDELIV", delay)),
        ReceiptFate::Lost => None,
    };
    if let (Some(url), Some((code, msg, delay))) = (ctx.shared.receipt_url(product), receipt) {
        pushes.push(PushJob {
            kind: PushKind::Receipt,
            product,
            url,
            fields: vec![
                ("code".to_owned(), code.to_owned()),
                ("msg".to_owned(), msg.to_owned()),
                ("mobilephone".to_owned(), mobile.to_owned()),
                ("smsid".to_owned(), id.clone()),
            ],
            charset: Charset::Utf8,
            delay,
            expect_zero: false,
            stamp_report_time: true,
            generation: state.generation,
        });
    }
    Ok(Field::Text(id))
}

/// Whether `text` is `template` with each `【变量】` replaced by some text.
fn template_matches(template: &str, text: &str) -> bool {
    let mut pieces = template.split("【变量】");
    let Some(first) = pieces.next() else {
        return false;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        // No placeholder: the text must be the template itself.
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}
