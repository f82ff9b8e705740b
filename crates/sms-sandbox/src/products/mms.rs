//! 10658.cc MMS (`/webservice/api`): SendMms, GetNum and CreateMms. Plain passwords only.

use std::io::Read;
use std::sync::Arc;

use base64::Engine as _;
use hyper::StatusCode;

use super::{Ctx, Outcome, ip_allowed};
use crate::config::{Account, Product};
use crate::params::Params;
use crate::records::RecordedMessage;
use crate::render::{Answer, Field, Reply};
use crate::rules;
use crate::state::{Package, State};

const NAMESPACE: &str = "http://10658.cc/";
/// Largest package SendMms accepts (407 beyond), in zip bytes.
const MAX_PACKAGE_BYTES: usize = 300 * 1024;
/// Largest total uncompressed size CreateMms reads from a zip (a guard against zip bombs).
const MAX_UNZIPPED_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    SendMms,
    GetNum,
    CreateMms,
}

#[derive(Debug)]
struct Refusal {
    code: String,
    msg: String,
}

fn refuse(method: Method, code: &str) -> Refusal {
    Refusal {
        code: code.to_owned(),
        msg: message(method, code).to_owned(),
    }
}

fn message(method: Method, code: &str) -> &'static str {
    match (method, code) {
        (_, "2") => "提交成功",
        (_, "0") => "提交失败",
        (_, "400") => "非法ip访问",
        (_, "401") => "帐号不能为空",
        (_, "402") => "密码不能为空",
        (Method::CreateMms, "403") => "彩信标题不能为空",
        (_, "403") => "手机号码不能为空",
        (_, "404") => "彩信内容不能为空",
        (Method::CreateMms, "4040") => "彩信压缩包不能为空",
        (_, "4040") => "签名格式不正确",
        (_, "405") => "用户名或密码不正确",
        (_, "4050") => "账号被冻结",
        (_, "4051") => "剩余条数不足",
        (Method::CreateMms, "406") => "彩信压缩包格式错误",
        (_, "406") => "产品ID不能为空",
        (Method::CreateMms, "4060") => "彩信SMIL文件格式错误",
        (_, "4060") => "产品ID不正确",
        (_, "407") => "彩信内容超出长度限制",
        (_, "4070") => "彩信内容含有敏感字符",
        (Method::CreateMms, "409") => "彩信创建失败",
        (_, "409") => "没有合法的手机号码",
        _ => "模拟的服务商错误",
    }
}

pub(crate) fn answer(ctx: &Ctx<'_>, params: &Params) -> Outcome {
    let json = params.get("format").trim().eq_ignore_ascii_case("json");
    let name = params.get("method").trim();
    let method = if name.eq_ignore_ascii_case("SendMms") {
        Method::SendMms
    } else if name.eq_ignore_ascii_case("GetNum") {
        Method::GetNum
    } else if name.eq_ignore_ascii_case("CreateMms") {
        Method::CreateMms
    } else if name.is_empty() {
        return Reply::plain(StatusCode::BAD_REQUEST, "missing `method` parameter").into();
    } else {
        return Reply::plain(StatusCode::BAD_REQUEST, format!("unknown method `{name}`")).into();
    };
    let (root, id_field) = match method {
        Method::SendMms => ("SendMmsResult", "mmsid"),
        Method::GetNum => ("GetNumResult", "num"),
        Method::CreateMms => ("CreateMmsResult", "mmsid"),
    };
    let render = |result: Result<Field, Refusal>| {
        let (code, msg, id) = match result {
            Ok(id) => {
                let msg = if method == Method::GetNum {
                    "查询成功"
                } else {
                    "提交成功"
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
            root,
            namespace: NAMESPACE,
            code,
            msg,
            fields: vec![(id_field, id)],
        }
        .render(json)
    };
    if let Some(code) = ctx.forced.as_deref().filter(|c| *c != "2") {
        return render(Err(refuse(method, code))).into();
    }
    let result = match method {
        Method::SendMms => send(ctx, &mut ctx.shared.state(), params),
        Method::GetNum => required(method, params, &[]).and_then(|()| {
            let mut state = ctx.shared.state();
            let account = authenticate(ctx, &mut state, params, method)?;
            Ok(Field::Number(
                state.balance(Product::Mms, &account.account).unwrap_or(0),
            ))
        }),
        Method::CreateMms => create(ctx, params),
    };
    render(result).into()
}

/// 401/402 plus the method's other required fields, in the provider's order.
fn required(method: Method, params: &Params, others: &[(&str, &'static str)]) -> Result<(), Refusal> {
    if params.get("account").is_empty() {
        return Err(refuse(method, "401"));
    }
    if params.get("password").is_empty() {
        return Err(refuse(method, "402"));
    }
    for (field, code) in others {
        if params.get(field).trim().is_empty() {
            return Err(refuse(method, code));
        }
    }
    Ok(())
}

fn authenticate(
    ctx: &Ctx<'_>,
    state: &mut State,
    params: &Params,
    method: Method,
) -> Result<Arc<Account>, Refusal> {
    let account = state
        .account(Product::Mms, params.get("account"))
        .ok_or_else(|| refuse(method, "405"))?;
    if !ip_allowed(&account.config.allowed_ips, ctx.peer) {
        return Err(refuse(method, "400"));
    }
    if params.get("password") != account.key {
        return Err(refuse(method, "405"));
    }
    if account.config.frozen {
        return Err(refuse(method, "4050"));
    }
    Ok(Arc::clone(&account.config))
}

fn send(ctx: &Ctx<'_>, state: &mut State, params: &Params) -> Result<Field, Refusal> {
    let method = Method::SendMms;
    required(
        method,
        params,
        &[("mobile", "403"), ("mmsid", "404"), ("pid", "406")],
    )?;
    let account = authenticate(ctx, state, params, method)?;
    let pid = params.get("pid").trim();
    if !account.mms_product_ids.iter().any(|p| p == pid) {
        return Err(refuse(method, "4060"));
    }
    let package_id = params.get("mmsid").trim();
    let package = match state
        .packages
        .get(&(account.account.clone(), package_id.to_owned()))
    {
        Some(p) => p,
        None => {
            return Err(Refusal {
                code: "404".to_owned(),
                msg: format!("彩信不存在:{package_id}"),
            });
        }
    };
    if package.size > MAX_PACKAGE_BYTES {
        return Err(refuse(method, "407"));
    }
    if let Some(word) = rules::sensitive_word(&account, &package.text) {
        return Err(Refusal {
            code: "4070".to_owned(),
            msg: format!("{}:{word}", message(method, "4070")),
        });
    }
    let mut accepted = Vec::new();
    let mut failed = Vec::new();
    for number in params.get("mobile").split(',').map(str::trim) {
        if number.is_empty() {
            continue;
        }
        if rules::is_mainland_mobile(number) && !account.blacklist.iter().any(|b| b == number) {
            accepted.push(number.to_owned());
        } else {
            failed.push(number.to_owned());
        }
    }
    if accepted.is_empty() {
        return Err(refuse(method, "409"));
    }
    let billed = i64::try_from(accepted.len()).unwrap_or(i64::MAX);
    let Some(balance) = state.account_mut(Product::Mms, &account.account) else {
        return Err(refuse(method, "405"));
    };
    if balance.balance < billed {
        return Err(refuse(method, "4051"));
    }
    balance.balance -= billed;
    let time = params.get("time").trim();
    let scheduled =
        crate::clock::is_calendar_time(time, crate::clock::TimeLayout::Dashed).then(|| time.to_owned());
    let id = (200_000_000 + state.next_number()).to_string();
    state.record(RecordedMessage {
        product: Product::Mms,
        account: account.account.clone(),
        recipients: accepted,
        failed,
        text: package_id.to_owned(),
        provider_id: id.clone(),
        time: ctx.now,
        parts: 1,
        billed,
        template_id: None,
        scheduled,
        delivered: true,
        sender_number: None,
    });
    Ok(Field::Text(id))
}

/// What a CreateMms zip turned out to be.
enum Unpacked {
    /// Not base64, or not a zip (406).
    Broken,
    /// No `.smil` file, or one that is not SMIL (4060).
    BadSmil,
    /// A SMIL file and nothing to show (404).
    Empty,
    Package {
        text: String,
        size: usize,
    },
}

fn create(ctx: &Ctx<'_>, params: &Params) -> Result<Field, Refusal> {
    let method = Method::CreateMms;
    required(method, params, &[("title", "403"), ("zipfile", "4040")])?;
    // Unzipping happens before taking the lock: it can take a while.
    let unpacked = unpack(params.get("zipfile"));
    let mut state = ctx.shared.state();
    let account = authenticate(ctx, &mut state, params, method)?;
    let (text, size) = match unpacked {
        Unpacked::Broken => return Err(refuse(method, "406")),
        Unpacked::BadSmil => return Err(refuse(method, "4060")),
        Unpacked::Empty => return Err(refuse(method, "404")),
        Unpacked::Package { text, size } => (text, size),
    };
    let id = (300_000_000 + state.next_number()).to_string();
    let title = params.get("title").trim();
    state.packages.insert(
        (account.account.clone(), id.clone()),
        Package {
            text: format!("{title}\n{text}"),
            size,
        },
    );
    Ok(Field::Text(id))
}

fn unpack(zipfile: &str) -> Unpacked {
    // A multipart upload may carry the raw zip; otherwise it is base64 (line breaks tolerated).
    let bytes = if zipfile.as_bytes().starts_with(b"PK\x03\x04") {
        zipfile.as_bytes().to_vec()
    } else {
        let compact: String = zipfile.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        match base64::engine::general_purpose::STANDARD.decode(compact.trim()) {
            Ok(b) => b,
            Err(_) => return Unpacked::Broken,
        }
    };
    let size = bytes.len();
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return Unpacked::Broken;
    };
    let mut smil = None;
    let mut media = 0usize;
    let mut text = String::new();
    let mut budget = MAX_UNZIPPED_BYTES;
    for i in 0..archive.len() {
        let Ok(mut file) = archive.by_index(i) else {
            return Unpacked::Broken;
        };
        if file.is_dir() {
            continue;
        }
        // A name the archive cannot decode is a broken package, as the provider would see it.
        let Ok(name) = file.name().map(|name| name.to_ascii_lowercase()) else {
            return Unpacked::Broken;
        };
        let mut content = Vec::new();
        match (&mut file).take(budget).read_to_end(&mut content) {
            Ok(n) => budget = budget.saturating_sub(n as u64),
            Err(_) => return Unpacked::Broken,
        }
        if budget == 0 {
            return Unpacked::Broken;
        }
        if name.ends_with(".smil") {
            smil = Some(content);
        } else {
            media += 1;
            if name.ends_with(".txt") {
                text.push_str(&decode_text(&content));
                text.push('\n');
            }
        }
    }
    let Some(smil) = smil else {
        return Unpacked::BadSmil;
    };
    let smil = String::from_utf8_lossy(&smil).to_ascii_lowercase();
    if !smil.contains("<smil") || !smil.contains("</smil>") {
        return Unpacked::BadSmil;
    }
    if media == 0 {
        return Unpacked::Empty;
    }
    Unpacked::Package { text, size }
}

/// MMS text files come in UTF-8 or GBK.
fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::GBK.decode(bytes).0.into_owned(),
    }
}
