//! The web UI's texts in Japanese and English. Every text is one key with both languages side by side,
//! so a page cannot show a text that lacks a translation. The language comes from the `lang` cookie
//! (set by the switch in the header); Japanese is the default.

use axum::http::HeaderMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    Ja,
    En,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub(crate) fn parse(code: &str) -> Option<Lang> {
        match code {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language a request asked for (its `lang` cookie), Japanese by default.
    pub(crate) fn of(headers: &HeaderMap) -> Lang {
        crate::session::cookie(headers, "lang").and_then(Lang::parse).unwrap_or(Lang::Ja)
    }

    /// The other language, which the switch offers.
    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// The text `key` in this language.
    pub(crate) fn t(self, key: T) -> &'static str {
        key.text(self)
    }
}

macro_rules! texts {
    ($($key:ident => $ja:literal, $en:literal;)*) => {
        /// A text of the UI.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum T { $($key),* }

        impl T {
            pub(crate) fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((T::$key, Lang::Ja) => $ja, (T::$key, Lang::En) => $en,)*
                }
            }
        }
    };
}

texts! {
    AppName => "kiban 基盤", "kiban";
    SwitchLanguage => "English", "日本語";
    SignIn => "ログイン", "Sign in";
    SignOut => "ログアウト", "Sign out";
    UserName => "ユーザー名", "User name";
    Password => "パスワード", "Password";
    OneTimeCode => "ワンタイムコード（または回復コード）", "One-time code (or a recovery code)";
    SignedInAs => "ログイン中", "Signed in as";
    Dashboard => "ダッシュボード", "Dashboard";
    Providers => "医療情報取扱事業者", "Providers";
    Batches => "受領バッチ", "Intake batches";
    Quarantine => "隔離された入力", "Quarantined inputs";
    Linkage => "名寄せ", "Linkage";
    Releases => "提供", "Releases";
    Ledger => "提供の記録（帳簿）", "Provision ledger";
    Receipts => "受領の記録", "Records of receipt";
    Audit => "監査ログ", "Audit log";
    Users => "利用者", "Users";
    Keys => "鍵", "Keys";
    Optouts => "提供停止の求め", "Opt-out requests";
    Jobs => "処理", "Jobs";
    NothingYet => "まだありません。", "Nothing yet.";
    Code => "コード", "Code";
    Name => "名称", "Name";
    Address => "住所", "Address";
    NotifiedOn => "通知日", "Notified on";
    PublishedOn => "公表日", "Published on";
    NotPublished => "未公表", "not published";
    Register => "登録", "Register";
    Batch => "バッチ", "Batch";
    Provider => "事業者", "Provider";
    Format => "形式", "Format";
    Status => "状態", "Status";
    StartedAt => "開始", "Started";
    CompletedAt => "完了", "Completed";
    Path => "パス", "Path";
    Reason => "理由", "Reason";
    RunLinkage => "名寄せを実行", "Run linkage";
    LinkageHelp => "受領済みの全レコードを個人ごとに突合します。時間がかかる場合はバックグラウンドで実行されます。", "Links every received record to a person. It runs in the background.";
    ReleaseId => "提供ID", "Release";
    Recipient => "提供先", "Recipient";
    RecipientAddress => "提供先の住所", "Recipient's address";
    ProvidedOn => "提供日", "Provided on";
    Mode => "種別", "Mode";
    Persons => "人数", "Persons";
    Report => "報告書", "Report";
    NewRelease => "新しい提供", "New release";
    BuiltInPolicy => "標準の匿名加工ポリシー（k-匿名性）", "The built-in anonymized policy (k-anonymity)";
    OrPolicy => "またはポリシー（TOML）", "Or a policy (TOML)";
    StartRelease => "加工して提供する", "Process and release";
    Items => "項目", "Items";
    RetainUntil => "保存期限", "Keep until";
    ReceivedOn => "受領日", "Received on";
    Excluded => "除外（提供停止）", "Left out (opt-out)";
    Verify => "検証する", "Verify";
    AuditVerified => "ハッシュ連鎖と署名付きヘッドを検証しました。", "The hash chain and its signed head verify.";
    Entries => "件数", "Entries";
    HeadHash => "先頭ハッシュ", "Head hash";
    SignedThrough => "署名済み", "Signed through";
    PublicKey => "公開鍵", "Public key";
    Filter => "絞り込み", "Filter";
    Since => "開始日時", "Since";
    Until => "終了日時", "Until";
    Object => "対象", "Object";
    At => "日時", "At";
    Actor => "操作者", "Actor";
    Action => "操作", "Action";
    Outcome => "結果", "Outcome";
    Detail => "詳細", "Detail";
    Roles => "役割", "Roles";
    Enrolled => "登録済み", "Enrolled";
    Locked => "ロック中", "Locked";
    AddUser => "利用者を追加", "Add a user";
    DisplayName => "表示名", "Display name";
    EnrollmentToken => "登録トークン（本人に手渡してください。一度だけ表示されます）", "Enrollment token (hand it to the user in person; shown once)";
    Lock => "ロック", "Lock";
    Unlock => "ロック解除", "Unlock";
    KekId => "鍵暗号化鍵（KEK）ID", "Key-encryption key (KEK) ID";
    WrappedKeys => "保管中の鍵", "Wrapped keys";
    RecordOptout => "提供停止の求めを記録", "Record an opt-out request";
    Requester => "求めを行った者", "Requester";
    ThePerson => "本人", "The person";
    BereavedFamily => "遺族", "A bereaved family member";
    RequesterName => "求めを行った者の氏名", "Requester's name";
    Relationship => "続柄（遺族の場合）", "Relationship (bereaved family)";
    StopOn => "提供停止日", "Stop on";
    Kana => "本人のカナ氏名", "The person's kana name";
    BirthDate => "本人の生年月日", "The person's birth date";
    Sex => "性別（M/F）", "Sex (M/F)";
    PatientId => "患者ID", "Patient ID";
    InsurerNumber => "保険者番号", "Insurer number";
    Issuer => "通知の発行者", "Issuer of the notice";
    Notice => "通知書", "Notice";
    PrintNotice => "通知書を印刷", "Print the notice";
    Recorded => "記録しました。", "Recorded.";
    Job => "処理", "Job";
    Running => "実行中…", "Running…";
    Done => "完了", "Done";
    Failed => "失敗", "Failed";
    Open => "開く", "Open";
    Error => "エラー", "Error";
    Back => "戻る", "Back";
    RecipientAccount => "受領者のアカウント", "Recipient's account";
    HandOver => "引き渡す", "Hand over";
    ProviderCredential => "事業者のアップロード用認証情報", "Provider upload credential";
    IssueCredential => "発行する（以前のものは無効）", "Issue (replaces the earlier one)";
    CredentialShownOnce => "アップロード用認証情報（一度だけ表示されます。安全な方法で事業者に渡してください）", "Upload credential (shown once; give it to the provider securely)";
    ReviewQueue => "確認待ちの組", "Review queue";
    ReviewHelp => "名寄せが自動では決められなかった組です。一致する項目を確かめ、同一人物か別人かを理由とともに記録してください。次回の名寄せで反映されます。", "Pairs linkage could not decide by itself. Check which fields agree and record whether they are one person, with the reason; the next linkage run applies it.";
    Pair => "組", "Pair";
    Agreement => "一致する項目", "Field agreement";
    Decision => "判断", "Decision";
    SamePerson => "同一人物", "Same person";
    DifferentPersons => "別人", "Different persons";
    Enroll => "利用登録（初回のパスワード設定）", "Enroll (set your first password)";
    EnrollHelp => "管理者から手渡された登録トークンで、ご自分のパスワードを設定します。管理者を含め、誰もあなたのパスワードを知ることはありません。", "Set your own password with the enrollment token an administrator handed you. Nobody, administrators included, ever learns your password.";
    EnrollmentTokenField => "登録トークン", "Enrollment token";
    NewPassword => "新しいパスワード（13文字以上、または8文字以上で2か月ごとに変更）", "New password (13+ characters, or 8+ changed every 2 months)";
    EnrolledShownOnce => "登録しました。以下は一度だけ表示されます。認証アプリに登録し、回復コードを安全に保管してください。", "Enrolled. What follows is shown once: add the secret to your authenticator app and keep the recovery codes safe.";
    TotpSecret => "認証アプリ用の秘密鍵", "Authenticator secret";
    RecoveryCodes => "回復コード（各1回限り）", "Recovery codes (each works once)";
    UploadTitle => "医療情報の送付（受領ゾーン）", "Send an extract (intake zone)";
    UploadHelp => "医療情報取扱事業者の方へ：抽出データを1つのtarアーカイブにまとめ、発行されたアップロード用認証情報とともに送信してください。受領の記録が作成されます。", "For providers: pack the extract into one tar archive and send it with the upload credential you were issued; a record of receipt is made.";
    Credential => "アップロード用認証情報", "Upload credential";
    Archive => "抽出データ（tar）", "Extract (tar)";
    Upload => "送信", "Send";
    Sending => "送信中…", "Sending…";
    UploadDone => "受領しました：バッチ {batch}、{persons} 人、隔離 {quarantined} 件。", "Received: batch {batch}, {persons} persons, {quarantined} quarantined.";
    AlreadyReceived => "（受領済みの抽出データです。重複して保存はしません）", "(already received: nothing was stored twice)";
    SetRoles => "役割を変更", "Set roles";
    IdentityCheck => "本人確認の方法", "How identity was checked";
    Reset => "再登録させる", "Reset";
    Step => "段階", "step";
    YourSections => "利用できる機能", "What you can do";
}
